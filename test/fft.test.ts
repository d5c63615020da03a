// FFT ops against f64 DFTs at every size 2^1..2^12 (both kernel families),
// bigger sizes against an f64 FFT, the STFT-sized batch, round trips, numpy's
// irfft semantics, gradients (first and second order) and error messages.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkGrads, dot, expectClose, f32, finiteDiff, randArray, rng, setup, sl, T } from './helpers.js';
import { complexAbs2, fft, ifft, irfft, rfft, setFftKernel, type FftKernel } from '../runtime/ops/fft.js';
import * as ref from './ref/fft.js';

beforeAll(setup);
afterAll(() => setFftKernel('auto'));

// An f32 transform of log2 N passes: rounding grows about with log2 N and is
// bounded relative to the largest magnitude in the output, so every element
// must satisfy |err| ≤ 4e-7·log2(N)·max|expected|. Observed on lavapipe
// (twiddles from the f64 table): forward transforms ≤ 1.4e-8·log2 N
// (1.7e-7 of max|X| at N = 4096 and at 2^16), round trips ≤ 8.3e-8·log2 N.
const tolFor = (N: number, expected: ArrayLike<number>) => {
  let mx = 0;
  for (let i = 0; i < expected.length; i++) mx = Math.max(mx, Math.abs(expected[i]));
  return { rtol: 0, atol: 4e-7 * Math.max(1, Math.log2(N)) * mx };
};

const framesFor = (N: number) => (N <= 512 ? 3 : N <= 2048 ? 2 : 1);
const SIZES = Array.from({ length: 12 }, (_, i) => 2 ** (i + 1));

// The f64 references are reused by both kernel families.
interface Case { x: Float64Array; y: Float64Array; inv?: Float64Array }
const refCache = new Map<string, Case>();
function cached(key: string, make: () => Case): Case {
  let v = refCache.get(key);
  if (!v) refCache.set(key, (v = make()));
  return v;
}

describe('f64 references agree with each other', () => {
  test('radix-2 f64 FFT vs direct DFT; rdft vs DFT of real input; irdft inverts rdft', () => {
    const r = rng(1);
    for (const N of [1, 2, 8, 64, 512]) {
      const x = randArray(2 * N * 2, r);
      expectClose(ref.fftFast(x, N), ref.dft(x, N), { rtol: 0, atol: 1e-11 * N }, `fftFast ${N}`);
    }
    const N = 64;
    const xr = randArray(2 * N, r);
    const xc = new Float64Array(4 * N);
    xr.forEach((v, i) => (xc[2 * i] = v));
    const full = ref.dft(xc, N);
    const half = ref.rdft(xr, N);
    for (let f = 0; f < 2; f++) {
      expectClose(half.subarray(f * (N + 2), (f + 1) * (N + 2)), full.subarray(2 * f * N, 2 * f * N + N + 2), { rtol: 0, atol: 1e-12 }, 'rdft');
    }
    expectClose(ref.irdft(half, N / 2 + 1, N), xr, { rtol: 0, atol: 1e-12 }, 'irdft');
  });
});

for (const mode of ['auto', 'passes'] as FftKernel[]) {
  describe(`kernels: ${mode}`, () => {
    beforeAll(() => setFftKernel(mode));
    afterAll(() => setFftKernel('auto'));

    test('fft and ifft vs direct DFT, ifft(fft(x)) ≈ x, N = 2^1..2^12', async () => {
      for (const N of SIZES) {
        const F = framesFor(N);
        const { x, y, inv } = cached(`c${N}`, () => {
          const x = f32(randArray(F * N * 2, rng(N)));
          return { x, y: ref.dft(x, N), inv: ref.dft(x, N, true) };
        });
        const xt = T(x, [F, N, 2]);
        const X = fft(xt);
        expect(X.shape).toEqual([F, N, 2]);
        expectClose(await X.read(), y, tolFor(N, y), `fft ${N}`);
        expectClose(await ifft(xt).read(), inv!, tolFor(N, inv!), `ifft ${N}`);
        expectClose(await ifft(X).read(), x, tolFor(N, x), `ifft(fft) ${N}`);
        xt.dispose();
        X.dispose();
      }
    });

    test('rfft vs DFT of real input, irfft(rfft(x)) ≈ x, N = 2^1..2^12', async () => {
      for (const N of SIZES) {
        const F = framesFor(N);
        const { x, y } = cached(`r${N}`, () => {
          const x = f32(randArray(F * N, rng(N + 7)));
          return { x, y: ref.rdft(x, N) };
        });
        const xt = T(x, [F, N]);
        const X = rfft(xt);
        expect(X.shape).toEqual([F, N / 2 + 1, 2]);
        expectClose(await X.read(), y, tolFor(N, y), `rfft ${N}`);
        const back = irfft(X);
        expect(back.shape).toEqual([F, N]);
        expectClose(await back.read(), x, tolFor(N, x), `irfft(rfft) ${N}`);
      }
    });

    test('irfft of arbitrary half spectra (imag of DC and Nyquist ignored), N = 2^1..2^12', async () => {
      for (const N of SIZES) {
        const F = framesFor(N);
        const bins = N / 2 + 1;
        const { x, y } = cached(`i${N}`, () => {
          const x = f32(randArray(F * bins * 2, rng(N + 13)));
          return { x, y: ref.irdft(x, bins, N) };
        });
        expectClose(await irfft(T(x, [F, bins, 2])).read(), y, tolFor(N, y), `irfft ${N}`);
      }
    });

    test('STFT batch: rfft of 1,300 frames × 2048 samples, spot-checked', async () => {
      const F = 1300, N = 2048;
      const x = f32(randArray(F * N, rng(2048)));
      const X = await rfft(T(x, [F, N])).read();
      const B = 2 * (N / 2 + 1);
      for (const f of [0, 1, 650, 1298, 1299]) {
        const y = ref.rdft(x.subarray(f * N, (f + 1) * N), N);
        expectClose(X.subarray(f * B, (f + 1) * B), y, tolFor(N, y), `frame ${f}`);
      }
    });

    test('gradients of fft, ifft, rfft, irfft, complexAbs2 vs finite differences', async () => {
      const r = rng(99);
      for (const N of [2, 8, 16, 32]) {
        const cx = [{ data: randArray(2 * N * 2, r), shape: [2, N, 2] }];
        await checkGrads(([a]) => fft(a), ([a]) => ref.dft(a, N), cx, {}, `fft ${N}`);
        await checkGrads(([a]) => ifft(a), ([a]) => ref.dft(a, N, true), cx, {}, `ifft ${N}`);
        const rx = [{ data: randArray(2 * N, r), shape: [2, N] }];
        await checkGrads(([a]) => rfft(a), ([a]) => ref.rdft(a, N), rx, {}, `rfft ${N}`);
        const bins = N / 2 + 1;
        const hx = [{ data: randArray(2 * bins * 2, r), shape: [2, bins, 2] }];
        await checkGrads(([a]) => irfft(a), ([a]) => ref.irdft(a, bins, N), hx, {}, `irfft ${N}`);
        await checkGrads(([a]) => complexAbs2(a), ([a]) => ref.abs2(a), cx, {}, `complexAbs2 ${N}`);
        // in complex layout: (|z|², 0) pairs
        const asComplex = (p: Float64Array) => Float64Array.from({ length: 2 * p.length }, (_, i) => (i % 2 ? 0 : p[i / 2]));
        await checkGrads(([a]) => complexAbs2(a, { complex: true }), ([a]) => asComplex(ref.abs2(a)), cx, {}, `complexAbs2 complex ${N}`);
      }
      // irfft with cropping and zero-padding of the half spectrum
      const crop = [{ data: randArray(2 * 7 * 2, r), shape: [2, 7, 2] }];
      await checkGrads(([a]) => irfft(a, 8), ([a]) => ref.irdft(a, 7, 8), crop, {}, 'irfft crop');
      await checkGrads(([a]) => irfft(a, 16), ([a]) => ref.irdft(a, 7, 16), crop, {}, 'irfft pad');
    });
  });
}

describe('beyond 2^12 (per-pass kernels)', () => {
  test('fft, rfft and round trips at N = 2^13, 2^14, 2^16 vs an f64 FFT', async () => {
    for (const N of [2 ** 13, 2 ** 14, 2 ** 16]) {
      const x = f32(randArray(N * 2, rng(N)));
      const y = ref.fftFast(x, N);
      const X = fft(T(x, [1, N, 2]));
      expectClose(await X.read(), y, tolFor(N, y), `fft ${N}`);
      expectClose(await ifft(X).read(), x, tolFor(N, x), `ifft(fft) ${N}`);
      const xr = f32(randArray(N, rng(N + 1)));
      const xc = new Float64Array(2 * N);
      xr.forEach((v, i) => (xc[2 * i] = v));
      const yr = ref.fftFast(xc, N).subarray(0, N + 2);
      const Xr = rfft(T(xr, [1, N]));
      expectClose(await Xr.read(), yr, tolFor(N, yr), `rfft ${N}`);
      expectClose(await irfft(Xr).read(), xr, tolFor(N, xr), `irfft(rfft) ${N}`);
    }
  });
});

describe('behaviour', () => {
  test('a pure tone at bin k peaks at k', async () => {
    const N = 2048;
    for (const k of [1, 100, 517, 1023]) {
      const x = Float64Array.from({ length: N }, (_, n) => Math.cos((2 * Math.PI * k * n) / N + 0.3));
      const p = await complexAbs2(rfft(T(x, [N]))).read();
      expect(p.length).toBe(N / 2 + 1);
      const peak = p.indexOf(Math.max(...p));
      expect(peak).toBe(k);
      expect(p[k]).toBeCloseTo((N / 2) ** 2, -2);
      // everything else is rounding noise
      expect(Math.max(...p.filter((_, i) => i !== k))).toBeLessThan(1e-6 * p[k]);
      // a complex tone e^{2πi kn/N} has a single nonzero bin
      const z = new Float64Array(2 * N);
      for (let n = 0; n < N; n++) {
        z[2 * n] = Math.cos((2 * Math.PI * k * n) / N);
        z[2 * n + 1] = Math.sin((2 * Math.PI * k * n) / N);
      }
      const pc = await complexAbs2(fft(T(z, [N, 2]))).read();
      expect(pc.indexOf(Math.max(...pc))).toBe(k);
    }
  });

  test('fft of length 1 is the identity; several leading axes are batched', async () => {
    const x = f32(randArray(5 * 2, rng(5)));
    expectClose(await fft(T(x, [5, 1, 2])).read(), x, { rtol: 0, atol: 0 }, 'fft 1');
    const N = 16;
    const y = f32(randArray(2 * 3 * N * 2, rng(6)));
    const Y = fft(T(y, [2, 3, N, 2]));
    expect(Y.shape).toEqual([2, 3, N, 2]);
    const e = ref.dft(y, N);
    expectClose(await Y.read(), e, tolFor(N, e), 'batched');
    const yr = y.subarray(0, 2 * 3 * N);
    const R = rfft(T(yr, [2, 3, N]));
    expect(R.shape).toEqual([2, 3, N / 2 + 1, 2]);
    const er = ref.rdft(yr, N);
    expectClose(await R.read(), er, tolFor(N, er), 'batched rfft');
  });

  test('irfft crops or zero-pads the half spectrum to n/2 + 1 bins (numpy)', async () => {
    const r = rng(77);
    for (const [bins, n] of [[5, 16], [20, 16], [9, 16], [2, 2], [3, 32]]) {
      const X = f32(randArray(2 * bins * 2, r));
      const y = ref.irdft(X, bins, n);
      const out = irfft(T(X, [2, bins, 2]), n);
      expect(out.shape).toEqual([2, n]);
      expectClose(await out.read(), y, tolFor(n, y), `irfft bins ${bins} n ${n}`);
    }
  });

  test('second order: grad of Σv·∇ₓ(Σw·|rfft(x)|²) and of Σv·∇(Σw·|fft(z)|²) vs finite differences', async () => {
    const N = 16;
    const r = rng(31);
    // real input: ∇ₓ Σ_k w_k |X_k|² = 2 Σ_k w_k (Re X_k cos θ − Im X_k sin θ), θ = 2πkn/N
    const x = f32(randArray(N, r));
    const w = f32(randArray(N / 2 + 1, r));
    const v = f32(randArray(N, r));
    const firstReal = (xs: Float64Array): Float64Array => {
      const X = ref.rdft(xs, N);
      return Float64Array.from({ length: N }, (_, n) => {
        let s = 0;
        for (let k = 0; k <= N / 2; k++) {
          const th = (2 * Math.PI * ((k * n) % N)) / N;
          s += 2 * w[k] * (X[2 * k] * Math.cos(th) - X[2 * k + 1] * Math.sin(th));
        }
        return s;
      });
    };
    const xt = T(x, [N], true);
    const [g] = sl.grad(sl.sum(sl.mul(complexAbs2(rfft(xt)), T(w, [N / 2 + 1]))), [xt], { createGraph: true });
    expectClose(await g!.read(), firstReal(x), { rtol: 1e-4, atol: 1e-4 }, 'first order, real');
    const [h] = sl.grad(sl.sum(sl.mul(g!, T(v, [N]))), [xt]);
    expectClose(await h!.read(), finiteDiff((xs) => dot(firstReal(xs), v), x), { rtol: 1e-3, atol: 1e-3 }, 'second order, real');

    // complex input: ∇_z Σ w|Z|² = 2·F^H(w ⊙ Z) = 2N·ifft(w ⊙ Z); then through ifft as well
    const z = f32(randArray(2 * N, r));
    const firstComplex = (zs: Float64Array): Float64Array => {
      const Z = ref.dft(zs, N);
      for (let k = 0; k < N; k++) {
        Z[2 * k] *= w[k % (N / 2 + 1)];
        Z[2 * k + 1] *= w[k % (N / 2 + 1)];
      }
      return ref.dft(Z, N, true).map((a) => 2 * N * a);
    };
    const wc = Float64Array.from({ length: N }, (_, k) => w[k % (N / 2 + 1)]);
    const vc = f32(randArray(2 * N, r));
    const zt = T(z, [N, 2], true);
    const [gc] = sl.grad(sl.sum(sl.mul(complexAbs2(fft(zt)), T(wc, [N]))), [zt], { createGraph: true });
    expectClose(await gc!.read(), firstComplex(z), { rtol: 1e-4, atol: 1e-4 }, 'first order, complex');
    const [hc] = sl.grad(sl.sum(sl.mul(gc!, T(vc, [N, 2]))), [zt]);
    expectClose(await hc!.read(), finiteDiff((zs) => dot(firstComplex(zs), vc), z), { rtol: 1e-3, atol: 1e-3 }, 'second order, complex');
  });

  test('errors name the op and the shape', () => {
    const z = (shape: number[]) => sl.zeros(shape);
    expect(() => fft(z([3, 6, 2]))).toThrow(/sleeve: fft: .*6.*\[3, 6, 2\].*power of 2/);
    expect(() => ifft(z([4, 8, 3]))).toThrow(/sleeve: ifft: .*\[\.\.\., n, 2\].*\[4, 8, 3\]/);
    expect(() => fft(z([8]))).toThrow(/sleeve: fft: .*\[8\]/);
    expect(() => rfft(z([4, 12]))).toThrow(/sleeve: rfft: .*12.*\[4, 12\].*power of 2/);
    expect(() => rfft(z([4, 1]))).toThrow(/sleeve: rfft: .*\[4, 1\]/);
    expect(() => irfft(z([4, 5, 3]))).toThrow(/sleeve: irfft: .*\[4, 5, 3\]/);
    expect(() => irfft(z([4, 5, 2]), 12)).toThrow(/sleeve: irfft: .*12.*\[4, 5, 2\].*power of 2/);
    expect(() => complexAbs2(z([4, 3]))).toThrow(/sleeve: complexAbs2: .*\[4, 3\]/);
  });
});
