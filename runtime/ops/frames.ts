// Feature-extraction ops. Strided views copied out in one pass: NumPy's
// as_strided (then copy), and overlapping windowed frames of a 1-D signal
// (the STFT's framing), built on the layout and binary kernels, which read
// their inputs at Σ coord·stride for any strides; and a product with a banded
// matrix (mel filterbanks); a polyphase FIR (rational resampling). None is differentiable: nothing upstream of
// feature extraction needs a gradient.
import { getEngine, MAX_ROW_2D, gridStride, gridStride2d } from '../engine.js';
import { K } from '../kernels.js';
import { empty, sizeOf, tensor, type Tensor } from '../tensor.js';
import { pad8 } from './util.js';
import { gather } from './strided.js';
import { zeros } from './elementwise.js';
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

/**
 * Rational resampling by a polyphase FIR: out[m] = Σⱼ x[n0 − j]·bank[phase, j]
 * for m < length, with c = m·down + offset, phase = c mod up, n0 = ⌊c / up⌋,
 * and x zero outside its length. bank [up, taps] holds each phase's taps
 * (row p: h[p], h[p + up], …, zero past the filter's end), so a filter h of
 * the upsampled rate gives out[m] = Σₙ x[n]·h[m·down − n·up + offset]:
 * scipy.signal.resample_poly's sum when offset is h's half-length.
 */
export function polyphase(x: Tensor, bank: Tensor, o: { up: number; down: number; offset: number; length: number }): Tensor {
  noGradInput('polyphase', x, bank);
  const { up, down, offset, length } = o;
  if (x.rank !== 1 || bank.rank !== 2) throw new Error(`sleeve: polyphase: expects a 1-D signal and a [up, taps] bank, got ${x.describe()} and ${bank.describe()}`);
  const ok = (v: number, min: number) => Number.isInteger(v) && v >= min && v < 2 ** 31;
  if (!ok(up, 1) || !ok(down, 1) || !ok(offset, 0) || !ok(length, 0)) {
    throw new Error(`sleeve: polyphase: up ${up} and down ${down} must be integers ≥ 1, offset ${offset} and length ${length} integers ≥ 0`);
  }
  if (bank.shape[0] !== up) throw new Error(`sleeve: polyphase: bank ${bank.describe()} has ${bank.shape[0]} phases for up = ${up}`);
  // the kernel's u32 arithmetic: the largest input index any output asks for,
  // and (b·down + offset) for a phase b < up, must stay below 2^32
  if (!polyphaseFits(up, down, offset, length)) {
    throw new Error(`sleeve: polyphase: ${length} outputs at up ${up} / down ${down} with offset ${offset} overflow the kernel's 32-bit indices`);
  }
  if (length === 0 || x.size === 0 || bank.shape[1] === 0) return zeros([length]);
  const out = empty([length]);
  getEngine().dispatch(K.polyphase, {
    entry: up === 1 ? 'single' : 'main',
    buffers: { x: x.buffer, bank: bank.buffer, out: out.buffer },
    uniforms: { n_in: x.size, n_out: length, up, down, offset, taps: bank.shape[1] },
    workgroups: gridStride(length),
  });
  return out;
}

/** Whether polyphase() can run these sizes (its indices are 32-bit). */
export function polyphaseFits(up: number, down: number, offset: number, length: number): boolean {
  return (up - 1) * down + offset < 2 ** 32 && Math.floor((Math.max(0, length - 1) * down + offset) / up) < 2 ** 32 - 1;
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
