// Short-time power spectrum on the GPU, librosa ≥ 0.9 defaults: frames of
// n_fft samples every hop, periodic Hann window, center=True with zero
// padding (librosa 0.10's pad_mode 'constant'), |rfft|² of all frames in one
// batched transform.
import { complexAbs2, pad, rfft, tensor, Tensor } from '../../runtime/index.js';
import { windowedFrames } from './frame.js';

export interface StftOptions {
  nFft: number;
  hop: number;
  /** Only 'hann' (periodic, scipy get_window(..., fftbins=True)). */
  window: 'hann';
  /** Pad n_fft/2 on both sides so frame t is centred on sample t·hop. */
  center: boolean;
}

/** Periodic Hann: 0.5 − 0.5·cos(2πn/N), the DFT-even window librosa uses. */
export function hannPeriodic(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/** Frames produced for a signal of `length` samples. */
export function frameCount(length: number, o: StftOptions): number {
  const padded = o.center ? length + 2 * Math.floor(o.nFft / 2) : length;
  return padded < o.nFft ? 0 : 1 + Math.floor((padded - o.nFft) / o.hop);
}

const windows = new Map<string, Float32Array>();

function windowData(kind: string, n: number): Float32Array {
  const key = `${kind}:${n}`;
  let w = windows.get(key);
  if (!w) windows.set(key, (w = Float32Array.from(hannPeriodic(n))));
  return w;
}

/** A window as a [n] tensor, zero-extended to `length` (uploaded per call: it is tiny beside the frames). */
export function windowTensor(kind: 'hann', n: number, length = n): Tensor {
  const w = windowData(kind, n);
  if (length === n) return tensor(w, [n]);
  const z = new Float32Array(length);
  z.set(w);
  return tensor(z, [length]);
}

/**
 * Power spectrogram of a mono signal [samples] → [frames, n_fft/2 + 1] (frames
 * first). A host array is centre-padded on the host before upload (one GPU
 * pass fewer); a tensor is padded on the GPU.
 */
export function stftPower(y: Tensor | Float32Array, o: StftOptions): Tensor {
  if (o.window !== 'hann') throw new Error(`sleeve: stftPower: unknown window '${o.window}' (only 'hann')`);
  const length = y instanceof Tensor ? y.size : y.length;
  if (y instanceof Tensor && y.rank !== 1) throw new Error(`sleeve: stftPower: expects a 1-D signal, got ${y.describe()}`);
  const frames = frameCount(length, o);
  if (frames < 1) {
    throw new Error(`sleeve: stftPower: ${length} samples are too few for one frame of ${o.nFft}${o.center ? ' (even centred)' : ''}`);
  }
  const half = Math.floor(o.nFft / 2);
  let padded: Tensor;
  if (y instanceof Tensor) {
    padded = o.center ? pad(y, [[half, half]]) : y;
  } else if (o.center) {
    const host = new Float32Array(length + 2 * half);
    host.set(y, half);
    padded = tensor(host);
  } else {
    padded = tensor(y);
  }
  return complexAbs2(rfft(windowedFrames(padded, windowTensor(o.window, o.nFft), frames, o.hop)));
}
