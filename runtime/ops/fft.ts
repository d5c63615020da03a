// FFT over the last axis: complex (fft, ifft: [..., n, 2] interleaved re/im)
// and real (rfft: [..., N] → [..., N/2 + 1, 2]; irfft back), batched over all
// leading axes in one dispatch per pass, O(N log N) (kernels/fft.wgsl).
//
// Which kernel runs was settled by measurement. rfft of 1,300 frames × 2048
// real samples (the STFT), median of 5 after warm-up, the two alternating in
// one process, clock stopped after a queue sync:
//                                   lavapipe (2 CPU cores)   H200 (Vulkan)
//   one workgroup per frame,        76–80 ms                 0.38 ms
//     frame in workgroup memory,
//     1 dispatch
//   one dispatch per Stockham pass  92–106 ms                0.67 ms
//     over global memory,
//     6 dispatches
// (lavapipe runs with the process at raised priority on a machine shared with
// other jobs; the workgroup size, 8 to 64, made no measurable difference there.)
// So a frame goes through workgroup memory while its ping-pong (2n complex
// values) fits the device's maxComputeWorkgroupStorageSize (n ≤ 2048 complex
// points with lavapipe's 32 KiB or the H200's 48 KiB, i.e. rfft up to
// N = 4096), and through the per-pass kernels beyond that (any power of 2).
//
// Every transform here is linear, so each backward rule is another transform
// of the same family (the adjoint), itself recorded: grad-of-grad works.
//   complex(x; dir, s) = s·F_dir x        adjoint: complex(g; -dir, s)
//   real(x; s, v)      = s·D_v·R x        adjoint: realInverse(g; s, v/2)
//   realInverse(X; s, w) = s·C·D_w X     adjoint: real(g; s, 2w)
// R is the half-spectrum DFT, C the unnormalised c2r transform
// (C X)[n] = Re X0 + (-1)^n Re X_m + 2 Σ_{k=1}^{m-1} Re(X_k e^{2πikn/N}),
// and D_v scales bins 1 .. m-1 by v (the bins that stand for two in the full
// spectrum, so R's adjoint halves them and C's adjoint doubles them).
import { record } from '../autograd.js';
import { getDevice } from '../device.js';
import { getEngine, grid1d, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, sizeOf, type Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { pad, reshape, slice } from './shape.js';

export type FftKernel = 'auto' | 'passes';
let choice: FftKernel = 'auto';

/** 'passes' forces the per-pass kernels at every size (benchmarks, tests);
 * 'auto' uses workgroup memory wherever a frame fits. */
export function setFftKernel(k: FftKernel): void {
  choice = k;
}

// ---- twiddle tables ---------------------------------------------------------

const tables = new WeakMap<GPUDevice, Map<number, GPUBuffer>>();

/** exp(-2πi t/L) for t < L, computed in f64 and uploaded once per (device, L). */
function twiddles(L: number): GPUBuffer {
  const device = getDevice();
  let byLength = tables.get(device);
  if (!byLength) tables.set(device, (byLength = new Map()));
  let buf = byLength.get(L);
  if (!buf) {
    const data = new Float32Array(2 * L);
    for (let t = 0; t < L; t++) {
      const a = (-2 * Math.PI * t) / L;
      data[2 * t] = Math.cos(a);
      data[2 * t + 1] = Math.sin(a);
    }
    buf = device.createBuffer({ label: `fft twiddles ${L}`, size: data.byteLength, usage: 0x80 | 0x08 }); // STORAGE | COPY_DST
    getEngine().write(buf, data);
    byLength.set(L, buf);
  }
  return buf;
}

// ---- dispatch ---------------------------------------------------------------

function isPow2(n: number): boolean {
  return n >= 1 && Number.isInteger(Math.log2(n));
}

/** Frames of n complex points go through workgroup memory when the ping-pong fits. */
function useWorkgroup(n: number): boolean {
  if (choice === 'passes') return false;
  return 2 * n * 8 <= getDevice().limits.maxComputeWorkgroupStorageSize;
}

interface Pass {
  n: number;
  frames: number;
  twLength: number;
  dir: 1 | -1;
  scale: number;
  weight: number;
}

function uniforms(c: Pass, lp = 0) {
  return {
    n: c.n, log2n: Math.log2(c.n), frames: c.frames, tw_shift: Math.log2(c.twLength / c.n),
    lp, dir: c.dir, scale: c.scale, weight: c.weight,
  };
}

function workgroupDispatch(entry: string, c: Pass, x: GPUBuffer, out: GPUBuffer): void {
  getEngine().dispatch(K.fft, {
    entry,
    constants: { WG: Math.min(64, Math.max(1, c.n / 4)), SH: 2 * c.n },
    buffers: { x, out, tw: twiddles(c.twLength) },
    uniforms: uniforms(c),
    workgroups: grid1d(c.frames, 1),
  });
}

/** The Stockham passes over global memory, src → dst, scale on the last pass. */
function globalPasses(c: Pass, src: GPUBuffer, dst: GPUBuffer): void {
  const e = getEngine();
  const tw = twiddles(c.twLength);
  const logn = Math.log2(c.n);
  if (logn === 0) throw new Error('sleeve: fft: the per-pass kernels need n ≥ 2');
  const temps: Tensor[] = [];
  let from = src;
  for (let lp = 0; lp < logn; ) {
    const radix = lp + 2 <= logn ? 4 : 2;
    const last = lp + (radix === 4 ? 2 : 1) === logn;
    let to = dst;
    if (!last) {
      const t = empty([c.frames, c.n, 2]);
      temps.push(t);
      to = t.buffer;
    }
    e.dispatch(K.fft, {
      entry: radix === 4 ? 'pass4' : 'pass2',
      buffers: { x: from, out: to, tw },
      uniforms: { ...uniforms(c, lp), scale: last ? c.scale : 1 },
      workgroups: grid1d((c.frames * c.n) / radix, 64),
    });
    from = to;
    lp += radix === 4 ? 2 : 1;
  }
  for (const t of temps) t.dispose(); // parked by the pool until this work is submitted
}

function complexRaw(x: Tensor, dir: 1 | -1, scale: number): Tensor {
  const n = x.shape[x.rank - 2];
  const out = empty(x.shape);
  const c: Pass = { n, frames: x.size / (2 * n), twLength: n, dir, scale, weight: 1 };
  if (c.frames === 0) return out;
  if (useWorkgroup(n) || n === 1) workgroupDispatch('cfft_wg', c, x.buffer, out.buffer);
  else globalPasses(c, x.buffer, out.buffer);
  return out;
}

function realRaw(x: Tensor, scale: number, weight: number): Tensor {
  const N = x.shape[x.rank - 1];
  const m = N / 2;
  const out = empty([...x.shape.slice(0, -1), m + 1, 2]);
  const c: Pass = { n: m, frames: x.size / N, twLength: N, dir: 1, scale, weight };
  if (c.frames === 0) return out;
  if (useWorkgroup(m) || m === 1) {
    workgroupDispatch('rfft_wg', c, x.buffer, out.buffer);
  } else {
    const z = empty([c.frames, m, 2]);
    globalPasses({ ...c, scale: 1 }, x.buffer, z.buffer);
    getEngine().dispatch(K.fft, {
      entry: 'rpost', buffers: { x: z.buffer, out: out.buffer, tw: twiddles(N) },
      uniforms: uniforms(c), workgroups: grid1d(c.frames * (m + 1), 64),
    });
    z.dispose();
  }
  return out;
}

function realInverseRaw(X: Tensor, N: number, scale: number, weight: number): Tensor {
  const m = N / 2;
  const out = empty([...X.shape.slice(0, -2), N]);
  const c: Pass = { n: m, frames: X.size / (2 * (m + 1)), twLength: N, dir: -1, scale, weight };
  if (c.frames === 0) return out;
  if (useWorkgroup(m) || m === 1) {
    workgroupDispatch('irfft_wg', c, X.buffer, out.buffer);
  } else {
    const z = empty([c.frames, m, 2]);
    getEngine().dispatch(K.fft, {
      entry: 'ipre', buffers: { x: X.buffer, out: z.buffer, tw: twiddles(N) },
      uniforms: uniforms(c), workgroups: grid1d(c.frames * m, 64),
    });
    globalPasses(c, z.buffer, out.buffer);
    z.dispose();
  }
  return out;
}

// ---- differentiable cores ---------------------------------------------------

function complexCore(x: Tensor, dir: 1 | -1, scale: number): Tensor {
  const out = complexRaw(x, dir, scale);
  return record(out, dir === 1 ? 'fft' : 'ifft', [x], (g) => [complexCore(g, dir === 1 ? -1 : 1, scale)]);
}

function realCore(x: Tensor, scale: number, weight: number): Tensor {
  const out = realRaw(x, scale, weight);
  const N = x.shape[x.rank - 1];
  return record(out, 'rfft', [x], (g) => [realInverseCore(g, N, scale, weight / 2)]);
}

function realInverseCore(X: Tensor, N: number, scale: number, weight: number): Tensor {
  const out = realInverseRaw(X, N, scale, weight);
  return record(out, 'irfft', [X], (g) => [realCore(g, scale, 2 * weight)]);
}

// ---- public ops -------------------------------------------------------------

function checkComplex(op: string, x: Tensor): number {
  if (x.rank < 2 || x.shape[x.rank - 1] !== 2) {
    throw new Error(`sleeve: ${op}: expected complex input [..., n, 2] (last axis re/im), got ${x.describe()}`);
  }
  const n = x.shape[x.rank - 2];
  if (!isPow2(n)) throw new Error(`sleeve: ${op}: length ${n} of axis -2 in ${x.describe()} is not a power of 2`);
  return n;
}

/** Unnormalised forward DFT over axis -2: X[k] = Σ_j x[j] e^{-2πi jk/n}. [..., n, 2] → [..., n, 2]. */
export function fft(x: Tensor): Tensor {
  checkComplex('fft', x);
  return complexCore(x, 1, 1);
}

/** Inverse DFT over axis -2, normalised by 1/n (numpy/torch). [..., n, 2] → [..., n, 2]. */
export function ifft(x: Tensor): Tensor {
  const n = checkComplex('ifft', x);
  return complexCore(x, -1, 1 / n);
}

/** DFT of real input over the last axis, bins 0..N/2. [..., N] → [..., N/2 + 1, 2]. */
export function rfft(x: Tensor): Tensor {
  const N = x.rank ? x.shape[x.rank - 1] : 0;
  if (!isPow2(N) || N < 2) {
    throw new Error(`sleeve: rfft: length ${N} of the last axis of ${x.describe()} must be a power of 2, at least 2`);
  }
  return realCore(x, 1, 1);
}

/**
 * Inverse of rfft, numpy's semantics: the output has n real samples (default
 * 2·(bins − 1)); the half spectrum is cropped or zero-padded to n/2 + 1 bins,
 * completed by Hermitian symmetry, and the imaginary parts of the DC and
 * Nyquist bins are ignored. Normalised by 1/n. [..., bins, 2] → [..., n].
 */
export function irfft(X: Tensor, n?: number): Tensor {
  if (X.rank < 2 || X.shape[X.rank - 1] !== 2) {
    throw new Error(`sleeve: irfft: expected a complex half spectrum [..., bins, 2], got ${X.describe()}`);
  }
  const bins = X.shape[X.rank - 2];
  const N = n ?? 2 * (bins - 1);
  if (!isPow2(N) || N < 2) {
    throw new Error(`sleeve: irfft: output length ${N} for ${X.describe()} must be a power of 2, at least 2`);
  }
  const want = N / 2 + 1;
  let Y = X;
  if (bins > want) {
    Y = slice(X, X.shape.map(() => 0), X.shape.map((d, i) => (i === X.rank - 2 ? want : d)));
  } else if (bins < want) {
    Y = pad(X, X.shape.map((_, i) => (i === X.rank - 2 ? [0, want - bins] : [0, 0]) as [number, number]));
  }
  return realInverseCore(Y, N, 1 / N, 1);
}

/** |z|² of each complex value: [..., 2] → [...] (a power spectrum). With
 * `complex`, [..., 2] holding (|z|², 0): a real spectrum in the layout irfft
 * takes (an autocorrelation's), without a padding pass. */
export function complexAbs2(X: Tensor, opts: { complex?: boolean } = {}): Tensor {
  if (X.rank < 1 || X.shape[X.rank - 1] !== 2) {
    throw new Error(`sleeve: complexAbs2: expected complex input [..., 2], got ${X.describe()}`);
  }
  const shape = X.shape.slice(0, -1);
  const out = empty(opts.complex ? X.shape : shape);
  const count = sizeOf(shape);
  if (count > 0) {
    getEngine().dispatch(K.fft, {
      entry: opts.complex ? 'abs2_complex' : 'abs2',
      buffers: opts.complex ? { x: X.buffer, out: out.buffer } : { x: X.buffer, power: out.buffer },
      uniforms: { n: count, log2n: 0, frames: 0, tw_shift: 0, lp: 0, dir: 1, scale: 1, weight: 1 },
      workgroups: gridStride(count),
    });
  }
  // d|z|²/dz = 2z (per real component); the zero imaginary part has no gradient
  return record(out, 'complexAbs2', [X], (g) => {
    const gRe = opts.complex ? slice(g, g.shape.map(() => 0), [...shape, 1]) : reshape(g, [...shape, 1]);
    return [mul(mul(X, gRe), 2)];
  });
}
