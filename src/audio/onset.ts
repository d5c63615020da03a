// Onset strength, librosa.onset.onset_strength's definition: the dB mel
// spectrogram's rise from one frame to the next (lag), half-wave rectified
// (only energy increases count), averaged over bands, then shifted right by
// lag + n_fft/(2·hop) frames so each value sits at the frame where its onset
// is centred, and trimmed to the spectrogram's frame count.
import { maximum, mean, pad, relu, slice, sub, zeros, type Tensor } from '../../runtime/index.js';

export interface OnsetOptions {
  /** Mel bands of the spectrogram the envelope is taken from (librosa default 128). */
  nMels: number;
  fmin: number;
  /** null: sampleRate / 2 */
  fmax: number | null;
  /** Frames between the compared spectra. */
  lag: number;
  /** Width of the maximum filter over frequency applied to the reference spectrum
   * (1: none; SuperFlux-style vibrato suppression above 1). */
  maxSize: number;
}

/** Maximum filter of width `size` along axis 1 of [T, bands] (scipy's maximum_filter1d,
 * mode 'reflect': with reflection, the window's in-range part already holds the maximum). */
function maxFilterBands(s: Tensor, size: number): Tensor {
  const [T, B] = s.shape;
  const left = Math.floor(size / 2), right = size - 1 - left;
  const padded = pad(s, [[0, 0], [left, right]], -1e30);
  let acc: Tensor | null = null;
  for (let k = 0; k < size; k++) {
    const part = slice(padded, [0, k], [T, B]);
    acc = acc ? maximum(acc, part) : part;
  }
  return acc!;
}

/** melDb [T, bands] → envelope [T]. `centerShift` = n_fft / (2·hop) when the STFT was centred, else 0. */
export function onsetStrength(melDb: Tensor, o: OnsetOptions, centerShift: number): Tensor {
  if (melDb.rank !== 2) throw new Error(`sleeve: onsetStrength: expects [frames, bands], got ${melDb.describe()}`);
  if (!Number.isInteger(o.lag) || o.lag < 1) throw new Error(`sleeve: onsetStrength: lag must be an integer ≥ 1, got ${o.lag}`);
  if (!Number.isInteger(o.maxSize) || o.maxSize < 1) throw new Error(`sleeve: onsetStrength: maxSize must be an integer ≥ 1, got ${o.maxSize}`);
  const [T, B] = melDb.shape;
  if (T <= o.lag) return zeros([T]);
  const ref = o.maxSize === 1 ? melDb : maxFilterBands(melDb, o.maxSize);
  const rise = relu(sub(slice(melDb, [o.lag, 0], [T - o.lag, B]), slice(ref, [0, 0], [T - o.lag, B])));
  const env = mean(rise, 1);
  const shifted = pad(env, [[o.lag + centerShift, 0]]);
  return slice(shifted, [0], [T]);
}

