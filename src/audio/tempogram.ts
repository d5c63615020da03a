// Autocorrelation tempogram, librosa.feature.tempogram's definition: the
// onset envelope is padded by win/2 on each side with linear ramps down to 0
// (NumPy's 'linear_ramp'), cut into windows of win frames at every frame,
// each window multiplied by a periodic Hann window and autocorrelated through
// the FFT (|rfft|², then irfft, zero-padded past 2·win − 1 so the correlation
// is linear, not circular), and each column divided by its largest |value|.
// For an autocorrelation that largest value is lag 0 (|R(k)| ≤ R(0) by
// Cauchy–Schwarz), so the division is by lag 0: no reduction pass, and only
// the lags asked for are ever copied out of the FFT's output.
import { complexAbs2, concat, div, full, irfft, maximum, mul, rfft, slice, tensor, type Tensor } from '../../runtime/index.js';
import { windowedFrames } from './frame.js';
import { windowTensor } from './stft.js';

export interface TempogramOptions {
  /** Onset frames per autocorrelation window (librosa default 384 ≈ 8.9 s). */
  winLength: number;
  window: 'hann';
  /** Centre each window on its frame (linear-ramp padding). */
  center: boolean;
  /** 'max': divide each column by its max |value| (librosa norm=np.inf), i.e. by lag 0; null: raw. */
  norm: 'max' | null;
}

/** Smallest normal f32: columns below it (silence) are left as they are, as librosa does. */
const TINY_F32 = 1.1754943508222875e-38;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** NumPy's pad(env, (w, w), 'linear_ramp', end_values=0) — ramps from 0 up to
 * each edge value — followed by `extra` zeros (room for zero-padded windows). */
function linearRampPad(env: Tensor, w: number, extra: number): Tensor {
  const T = env.size;
  const parts: Tensor[] = [];
  if (w > 0) {
    const up = new Float32Array(w), down = new Float32Array(w + extra);
    for (let i = 0; i < w; i++) {
      up[i] = i / w;
      down[i] = (w - 1 - i) / w;
    }
    parts.push(mul(slice(env, [0], [1]), tensor(up, [w])), env, mul(slice(env, [T - 1], [1]), tensor(down, [w + extra])));
  } else {
    parts.push(env);
    if (extra) parts.push(full([extra], 0));
  }
  return parts.length === 1 ? parts[0] : concat(parts, 0);
}

/**
 * onset envelope [T] → tempogram lags 0 … maxLag, [T, maxLag + 1] (frames first:
 * column t's lag k at [t, k]); maxLag defaults to winLength − 1, all of librosa's rows.
 */
export function tempogram(env: Tensor, o: TempogramOptions, maxLag = o.winLength - 1): Tensor {
  if (env.rank !== 1) throw new Error(`sleeve: tempogram: expects a 1-D onset envelope, got ${env.describe()}`);
  if (!Number.isInteger(o.winLength) || o.winLength < 1) throw new Error(`sleeve: tempogram: winLength must be an integer ≥ 1, got ${o.winLength}`);
  const T = env.size, W = o.winLength;
  if (!Number.isInteger(maxLag) || maxLag < 0 || maxLag >= W) throw new Error(`sleeve: tempogram: maxLag must be an integer in 0…${W - 1}, got ${maxLag}`);
  const L = maxLag + 1;
  const frames = o.center ? T : T - W + 1;
  if (frames < 1) return full([Math.max(frames, 0), L], 0);
  // each window zero-padded to n ≥ 2W − 1 so the FFT's circular correlation is the linear one
  const n = Math.max(2, nextPow2(2 * W - 1));
  const padded = linearRampPad(env, o.center ? Math.floor(W / 2) : 0, n - W);
  const windows = windowedFrames(padded, windowTensor(o.window, W, n), frames, 1);
  // |X|² as a complex spectrum with zero imaginary parts
  const power = complexAbs2(rfft(windows), { complex: true });
  const circular = irfft(power, n);
  const ac = slice(circular, [0, 0], [frames, L]);
  if (o.norm === null) return ac;
  return div(ac, maximum(slice(circular, [0, 0], [frames, 1]), full([1], TINY_F32)));
}
