// Feature-extraction ops. Strided views copied out in one pass: NumPy's
// as_strided (then copy), and overlapping windowed frames of a 1-D signal
// (the STFT's framing), built on the layout and binary kernels, which read
// their inputs at Σ coord·stride for any strides; and a product with a banded
// matrix (mel filterbanks). None is differentiable: nothing upstream of
// feature extraction needs a gradient.
import { getEngine, MAX_ROW_2D, gridStride, gridStride2d } from '../engine.js';
import { K } from '../kernels.js';
import { empty, sizeOf, tensor, type Tensor } from '../tensor.js';
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
  const twoD = n <= MAX_ROW_2D; // frames on a 2-D grid, no index division
  getEngine().dispatch(K.binary, {
    entry: twoD ? 'rows' : 'main',
    constants: { OP: 2 }, // mul
    buffers: { a: x.buffer, b: w.buffer, out: out.buffer },
    uniforms: { n: out.size, rank: 2, out_shape: pad8([frames, n]), a_strides: pad8([hop, 1]), b_strides: pad8([0, 1]) },
    workgroups: twoD ? gridStride2d(frames, n) : gridStride(out.size),
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

/**
 * a [rows, K] times the transpose of a banded w [M, K]: out[r, m] = Σ a[r, k]·w[m, k]
 * over k in [bands[2m], bands[2m + 1]). Equal to matmul(a, w, { transB: true })
 * when w is zero outside its bands (a mel filterbank; bandsOf finds them), at
 * the cost of the bands only.
 */
export function bandedMatmul(a: Tensor, w: Tensor, bands: ArrayLike<number>): Tensor {
  noGradInput('bandedMatmul', a, w);
  if (a.rank !== 2 || w.rank !== 2 || a.shape[1] !== w.shape[1]) {
    throw new Error(`sleeve: bandedMatmul: expects a [rows, K] and w [M, K], got ${a.describe()} and ${w.describe()}`);
  }
  const [rows, k] = a.shape, m = w.shape[0];
  if (bands.length !== 2 * m) throw new Error(`sleeve: bandedMatmul: ${bands.length} band bounds for the ${m} rows of w ${w.describe()} (want lo, hi per row)`);
  for (let i = 0; i < m; i++) {
    const lo = bands[2 * i], hi = bands[2 * i + 1];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || lo > hi || hi > k) {
      throw new Error(`sleeve: bandedMatmul: band ${i} is [${lo}, ${hi}), not within [0, ${k}] of w ${w.describe()}`);
    }
  }
  if (m > 65535 || rows > 65535 * 64) throw new Error(`sleeve: bandedMatmul: ${a.describe()} · ${w.describe()}ᵀ exceeds the dispatch grid`);
  const out = empty([rows, m]);
  if (out.size === 0) return out;
  const bounds = tensor(Float32Array.from(bands), [m, 2]);
  getEngine().dispatch(K.banded, {
    buffers: { a: a.buffer, w: w.buffer, band: bounds.buffer, out: out.buffer },
    uniforms: { rows, k, m },
    workgroups: [Math.ceil(rows / 64), m],
  });
  bounds.dispose();
  return out;
}

/** The [lo, hi) of each row's nonzeros in a dense host matrix [m, k] (an all-zero row: [0, 0]), as bandedMatmul takes them. */
export function bandsOf(w: ArrayLike<number>, m: number, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < m; r++) {
    let lo = k, hi = 0;
    for (let c = 0; c < k; c++) {
      if (w[r * k + c] !== 0) {
        lo = Math.min(lo, c);
        hi = c + 1;
      }
    }
    out.push(hi > 0 ? lo : 0, hi);
  }
  return out;
}
