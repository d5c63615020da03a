// Strided views copied out in one pass: NumPy's as_strided (then copy), and
// overlapping windowed frames of a 1-D signal (the STFT's framing), built on
// the layout and binary kernels, which read their inputs at Σ coord·stride
// for any strides. Neither is differentiable: they exist for feature
// extraction, where nothing upstream needs a gradient.
import { grid2d, getEngine } from '../engine.js';
import { K } from '../kernels.js';
import { empty, sizeOf, type Tensor } from '../tensor.js';
import { pad8 } from './util.js';
import { gather } from './strided.js';
import { isGradEnabled } from '../autograd.js';

function noGradInput(op: string, ...xs: Tensor[]): void {
  if (isGradEnabled() && xs.some((x) => x.requiresGrad)) {
    throw new Error(`sleeve: ${op} is not differentiable; call it on a tensor that does not require grad (or inside noGrad)`);
  }
}

/**
 * A contiguous copy of the strided view of x's elements (like NumPy's
 * as_strided, then copy): out[i₀, i₁, …] = x.flat[offset + Σ iₖ·strides[k]].
 * Every read must land inside x.
 */
export function asStrided(x: Tensor, shape: number[], strides: number[], offset = 0): Tensor {
  noGradInput('asStrided', x);
  if (shape.length !== strides.length || shape.length < 1 || shape.length > 8) {
    throw new Error(`sleeve: asStrided: shape [${shape}] and strides [${strides}] must have the same rank (1 to 8)`);
  }
  const n = sizeOf(shape);
  const last = offset + shape.reduce((acc, d, k) => acc + (d > 0 ? (d - 1) * strides[k] : 0), 0);
  if (offset < 0 || strides.some((s) => s < 0 || !Number.isInteger(s)) || (n > 0 && last >= x.size)) {
    throw new Error(`sleeve: asStrided: view [${shape}] with strides [${strides}] at offset ${offset} reads outside ${x.describe()}`);
  }
  return gather(x, { outShape: shape, strides, offset });
}

/**
 * Frames of a 1-D signal times a window, in one pass: out[t, j] = x[t·hop + j]·w[j]
 * for t < frames, j < w.size. The window may be longer than the span it should
 * cover, zero past it: that zero-pads each frame in the same pass (x must then
 * hold finite values up to (frames − 1)·hop + w.size).
 */
export function windowedFrames(x: Tensor, w: Tensor, frames: number, hop: number): Tensor {
  noGradInput('windowedFrames', x, w);
  const n = w.size;
  if (x.rank !== 1 || w.rank !== 1) throw new Error(`sleeve: windowedFrames: expects a 1-D signal and window, got ${x.describe()} and ${w.describe()}`);
  if (frames < 0 || (frames > 0 && (frames - 1) * hop + n > x.size)) {
    throw new Error(`sleeve: windowedFrames: ${frames} frames of ${n} every ${hop} read outside ${x.describe()}`);
  }
  const out = empty([frames, n]);
  if (out.size === 0) return out;
  getEngine().dispatch(K.binary, {
    entry: 'rows',
    constants: { OP: 2 }, // mul
    buffers: { a: x.buffer, b: w.buffer, out: out.buffer },
    uniforms: { n: out.size, rank: 2, out_shape: pad8([frames, n]), a_strides: pad8([hop, 1]), b_strides: pad8([0, 1]) },
    workgroups: grid2d(frames, n),
  });
  return out;
}

/** Frames of a 1-D signal: [1 + (len − frameLength) / hop, frameLength]. */
export function frameSignal(x: Tensor, frameLength: number, hop: number): Tensor {
  if (x.rank !== 1) throw new Error(`sleeve: frameSignal: expects a 1-D signal, got ${x.describe()}`);
  if (x.size < frameLength) throw new Error(`sleeve: frameSignal: signal ${x.describe()} is shorter than one frame (${frameLength})`);
  const frames = 1 + Math.floor((x.size - frameLength) / hop);
  return asStrided(x, [frames, frameLength], [hop, 1]);
}
