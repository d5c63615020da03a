// Neural-net ops against f64 references: batch norm (training, eval, running
// statistics, fused and composed gradients, grad-of-grad), max pooling
// (values, argmax, gather backward and its adjoint), dropout (seeded mask,
// statistics, backward) and softmax cross-entropy (large logits, reductions,
// label smoothing, fused and composed gradients, grad-of-grad).
import { beforeAll, describe, expect, test } from 'vitest';
import { checkGrads, dot, expectClose, f32, finiteDiff, prod, randArray, rng, setup, sl, T } from './helpers.js';
import * as ref from './ref/nnops.js';
import { batchNorm2d, bnSplit } from '../runtime/ops/norm.js';
import { maxPool2d, maxPool2dBackward, maxPool2dGather, maxPool2dWithIndices, type PoolGeometry } from '../runtime/ops/pool.js';
import { dropout } from '../runtime/ops/dropout.js';
import { crossEntropy, logSoftmax, softmax } from '../runtime/ops/loss.js';

beforeAll(setup);

/** Gradients of Σ w·f(inputs), with or without keeping the graph (composed or fused rules). */
async function gradsOf(f: (ts: sl.Tensor[]) => sl.Tensor, xs: { data: ArrayLike<number>; shape: number[] }[], w: ArrayLike<number>, createGraph: boolean): Promise<Float32Array[]> {
  const ts = xs.map((x) => T(x.data, x.shape, true));
  const out = f(ts);
  const gs = sl.grad(sl.sum(sl.mul(out, T(w, out.shape))), ts, { createGraph });
  return Promise.all(gs.map((g) => g!.read()));
}

// ---- batch norm -----------------------------------------------------------------

describe('batchNorm2d', () => {
  // f32 statistics over a few hundred values with a tree sum: the normalised
  // output is off by a few ulp of |x − mean|/σ (inputs offset from 0 so a
  // one-pass E[x²] − E[x]² would lose digits and fail this).
  const FWD = { rtol: 2e-5, atol: 2e-5 };
  // planes of a multiple of 4 values take the vec4 entries (train_forward4, backward4)
  const shapes = [[3, 5, 7, 9], [3, 5, 11, 13], [2, 3, 23, 29], [7, 6], [3, 5, 12, 13], [2, 3, 8, 130]];

  for (const shape of shapes) {
    test(`training forward and running statistics ${JSON.stringify(shape)}`, async () => {
      const r = rng(prod(shape));
      const s = ref.bnShape(shape);
      const x1 = f32(randArray(prod(shape), r, 2, 4));
      const x2 = f32(randArray(prod(shape), r, -3, 1));
      const w = f32(randArray(s.c, r, 0.5, 1.5)), b = f32(randArray(s.c, r));
      const rm = f32(randArray(s.c, r)), rv = f32(randArray(s.c, r, 0.5, 2));
      const rmT = T(rm, [s.c]), rvT = T(rv, [s.c]);
      const momentum = 0.3;
      const y1 = batchNorm2d(T(x1, shape), rmT, rvT, T(w, [s.c]), T(b, [s.c]), { training: true, momentum });
      const y2 = batchNorm2d(T(x2, shape), rmT, rvT, T(w, [s.c]), T(b, [s.c]), { training: true, momentum });
      expectClose(await y1.read(), ref.batchNorm(x1, s, { weight: w, bias: b }), FWD, 'step 1');
      expectClose(await y2.read(), ref.batchNorm(x2, s, { weight: w, bias: b }), FWD, 'step 2');
      const em = Float64Array.from(rm), ev = Float64Array.from(rv);
      ref.updateRunning(x1, s, em, ev, momentum);
      ref.updateRunning(x2, s, em, ev, momentum);
      // running stats: a blend of f32 means/variances, a few ulp each
      expectClose(await rmT.read(), em, { rtol: 1e-5, atol: 1e-6 }, 'running mean');
      expectClose(await rvT.read(), ev, { rtol: 1e-5, atol: 1e-6 }, 'running var');
    });
  }

  test('statistics split over many workgroups per channel match one workgroup per channel', async () => {
    // The split path runs for few channels over many elements; force it on
    // small odd sizes (uneven last chunk) and compare with the reference,
    // including data far from zero and the running statistics.
    const saved = { ...bnSplit };
    bnSplit.enabled = true;
    bnSplit.minPerChunk = 37;
    bnSplit.targetWorkgroups = 64;
    try {
      // the last two: planes of a multiple of 4 values (the *4 split entries), chunks rounded up to 4 values
      for (const [shape, lo, hi] of [[[3, 5, 11, 13], -1, 3], [[2, 3, 23, 29], 99.5, 100.5], [[3, 5, 12, 13], -1, 3], [[2, 3, 8, 30], 99.5, 100.5]] as [number[], number, number][]) {
        const r = rng(prod(shape) + 1);
        const s = ref.bnShape(shape);
        const x = f32(randArray(prod(shape), r, lo, hi));
        const w = f32(randArray(s.c, r, 0.5, 1.5)), b = f32(randArray(s.c, r));
        const rmT = T(new Float64Array(s.c), [s.c]), rvT = T(new Float64Array(s.c).fill(1), [s.c]);
        const y = batchNorm2d(T(x, shape), rmT, rvT, T(w, [s.c]), T(b, [s.c]), { training: true, momentum: 0.5 });
        expectClose(await y.read(), ref.batchNorm(x, s, { weight: w, bias: b }), { rtol: 1e-4, atol: 1e-4 }, `split ${shape}`);
        const em = new Float64Array(s.c), ev = new Float64Array(s.c).fill(1);
        ref.updateRunning(x, s, em, ev, 0.5);
        expectClose(await rmT.read(), em, { rtol: 1e-5, atol: 1e-6 }, 'running mean');
        expectClose(await rvT.read(), ev, { rtol: 1e-4, atol: 1e-6 }, 'running var');
        // the fused backward split the same way (graph not kept)
        const g = f32(randArray(prod(shape), r));
        const [dx, dw, db] = await gradsOf(([xt, wt, bt]) => batchNorm2d(xt, null, null, wt, bt, { training: true }),
          [{ data: x, shape }, { data: w, shape: [s.c] }, { data: b, shape: [s.c] }], g, false);
        const want = ref.batchNormGrad(x, s, g, { weight: w });
        expectClose(dx, want.dx, { rtol: 1e-4, atol: 1e-4 }, `split dx ${shape}`);
        // Σg·x̂ over ~1,300 values per channel; for data at |x| ≈ 100 with σ ≈ 0.3
        // each f32 x − mean carries ~2e-5 relative error: 1.4e-4 measured
        expectClose(dw, want.dw, { rtol: 5e-4, atol: 1e-4 }, `split dweight ${shape}`);
        expectClose(db, want.db, { rtol: 1e-4, atol: 1e-4 }, `split dbias ${shape}`);
      }
    } finally {
      Object.assign(bnSplit, saved);
    }
  });

  test('variance stays accurate for data far from zero (two-pass, not E[x²] − E[x]²)', async () => {
    const shape = [2, 3, 23, 29];
    const s = ref.bnShape(shape);
    const x = f32(randArray(prod(shape), rng(10), 99.5, 100.5)); // σ ≈ 0.29 at |x| ≈ 100
    const rvT = T(new Float64Array(s.c), [s.c]);
    const y = batchNorm2d(T(x, shape), T(new Float64Array(s.c), [s.c]), rvT, null, null, { training: true, momentum: 1 });
    // The mean is only known to ~ulp(100) ≈ 8e-6, i.e. ~3e-5 of σ; a one-pass
    // variance would be off by ~1 % here.
    expectClose(await y.read(), ref.batchNorm(x, s, {}), { rtol: 1e-4, atol: 1e-4 }, 'normalised');
    const ev = new Float64Array(s.c);
    ref.updateRunning(x, s, new Float64Array(s.c), ev, 1);
    expectClose(await rvT.read(), ev, { rtol: 1e-4, atol: 0 }, 'variance');
  });

  test('default momentum 0.1, no affine, no running stats', async () => {
    const shape = [4, 3, 5, 5];
    const r = rng(11);
    const s = ref.bnShape(shape);
    const x = f32(randArray(prod(shape), r, -2, 5));
    const rmT = T(new Float64Array(s.c), [s.c]), rvT = T(new Float64Array(s.c).fill(1), [s.c]);
    const y = batchNorm2d(T(x, shape), rmT, rvT, null, null, { training: true });
    expectClose(await y.read(), ref.batchNorm(x, s, {}), FWD, 'no affine');
    const em = new Float64Array(s.c), ev = new Float64Array(s.c).fill(1);
    ref.updateRunning(x, s, em, ev, 0.1);
    expectClose(await rmT.read(), em, { rtol: 1e-5, atol: 1e-6 }, 'running mean');
    expectClose(await rvT.read(), ev, { rtol: 1e-5, atol: 1e-6 }, 'running var');
    const y2 = batchNorm2d(T(x, shape), null, null, null, null, { training: true });
    expectClose(await y2.read(), ref.batchNorm(x, s, {}), FWD, 'no running');
  });

  test('weight only and bias only', async () => {
    const shape = [2, 4, 3, 7];
    const r = rng(12);
    const s = ref.bnShape(shape);
    const x = f32(randArray(prod(shape), r));
    const w = f32(randArray(s.c, r, 0.5, 2)), b = f32(randArray(s.c, r));
    expectClose(await batchNorm2d(T(x, shape), null, null, T(w, [4]), null, { training: true }).read(), ref.batchNorm(x, s, { weight: w }), FWD, 'weight only');
    expectClose(await batchNorm2d(T(x, shape), null, null, null, T(b, [4]), { training: true }).read(), ref.batchNorm(x, s, { bias: b }), FWD, 'bias only');
  });

  // [3, 5, 8, 9]: planes of a multiple of 4 values (eval_forward4)
  for (const shape of [[3, 5, 7, 9], [3, 5, 8, 9]]) test(`eval mode uses (and keeps) the running statistics ${JSON.stringify(shape)}`, async () => {
    const r = rng(13);
    const s = ref.bnShape(shape);
    const x = f32(randArray(prod(shape), r, -2, 2));
    const w = f32(randArray(s.c, r, 0.5, 1.5)), b = f32(randArray(s.c, r));
    const rm = f32(randArray(s.c, r)), rv = f32(randArray(s.c, r, 0.5, 2));
    const rmT = T(rm, [s.c]), rvT = T(rv, [s.c]);
    const y = batchNorm2d(T(x, shape), rmT, rvT, T(w, [s.c]), T(b, [s.c]), { training: false, eps: 1e-3 });
    const running = { mean: rm, variance: rv };
    expectClose(await y.read(), ref.batchNorm(x, s, { weight: w, bias: b, running, eps: 1e-3 }), { rtol: 1e-5, atol: 1e-5 }, 'eval');
    expectClose(await rmT.read(), rm, { rtol: 0, atol: 0 }, 'running mean untouched');
    expectClose(await rvT.read(), rv, { rtol: 0, atol: 0 }, 'running var untouched');
  });

  // Gradients are O(1); f32 per-channel sums over ≤ 945 values (measured ~10× inside).
  const GRAD = { rtol: 1e-4, atol: 2e-5 };

  for (const shape of [[3, 5, 7, 9], [3, 5, 4, 9]]) test(`training backward (fused) vs finite differences ${JSON.stringify(shape)}`, async () => {
    const r = rng(14);
    const c = shape[1];
    const x = randArray(prod(shape), r, -1, 3), w = randArray(c, r, 0.5, 1.5), b = randArray(c, r);
    const s = ref.bnShape(shape);
    await checkGrads(
      ([xt, wt, bt]) => batchNorm2d(xt, null, null, wt, bt, { training: true }),
      ([xd, wd, bd]) => ref.batchNorm(xd, s, { weight: wd, bias: bd }),
      [{ data: x, shape }, { data: w, shape: [c] }, { data: b, shape: [c] }],
      GRAD, 'bn train',
    );
  });

  for (const shape of [[3, 2, 5, 7], [3, 2, 4, 7]]) test(`backward without affine, and with weight only, vs finite differences ${JSON.stringify(shape)}`, async () => {
    const r = rng(20);
    const x = randArray(prod(shape), r, -1, 3), w = randArray(2, r, 0.5, 1.5);
    const s = ref.bnShape(shape);
    await checkGrads(
      ([xt]) => batchNorm2d(xt, null, null, null, null, { training: true }),
      ([xd]) => ref.batchNorm(xd, s, {}),
      [{ data: x, shape }], GRAD, 'bn no affine',
    );
    await checkGrads(
      ([xt, wt]) => batchNorm2d(xt, null, null, wt, null, { training: true }),
      ([xd, wd]) => ref.batchNorm(xd, s, { weight: wd }),
      [{ data: x, shape }, { data: w, shape: [2] }], GRAD, 'bn weight only',
    );
  });

  for (const shape of [[2, 3, 5, 7], [2, 3, 4, 7]]) test(`eval backward (fused) vs finite differences ${JSON.stringify(shape)}`, async () => {
    const r = rng(15);
    const c = shape[1];
    const x = randArray(prod(shape), r), w = randArray(c, r, 0.5, 1.5), b = randArray(c, r);
    const rm = f32(randArray(c, r)), rv = f32(randArray(c, r, 0.5, 2));
    const s = ref.bnShape(shape);
    await checkGrads(
      ([xt, wt, bt]) => batchNorm2d(xt, T(rm, [c]), T(rv, [c]), wt, bt, { training: false }),
      ([xd, wd, bd]) => ref.batchNorm(xd, s, { weight: wd, bias: bd, running: { mean: rm, variance: rv } }),
      [{ data: x, shape }, { data: w, shape: [c] }, { data: b, shape: [c] }],
      GRAD, 'bn eval',
    );
  });

  // 429 values per channel: past one tree of 256; 2,080 as 520 vec4s
  for (const [training, shape] of [[true, [3, 4, 11, 13]], [false, [3, 4, 11, 13]], [true, [2, 4, 8, 130]], [false, [2, 4, 8, 130]]] as [boolean, number[]][]) {
    test(`fused and composed backward agree (${training ? 'training' : 'eval'}) ${JSON.stringify(shape)}, both vs the analytic gradient`, async () => {
      const r = rng(training ? 16 : 17);
      const c = shape[1];
      const s = ref.bnShape(shape);
      const x = f32(randArray(prod(shape), r, -1, 3)), w = f32(randArray(c, r, 0.5, 1.5)), b = f32(randArray(c, r));
      const g = f32(randArray(prod(shape), r));
      const rm = f32(randArray(c, r)), rv = f32(randArray(c, r, 0.5, 2));
      const running = training ? null : { mean: rm, variance: rv };
      const f = ([xt, wt, bt]: sl.Tensor[]) =>
        batchNorm2d(xt, training ? null : T(rm, [c]), training ? null : T(rv, [c]), wt, bt, { training });
      const inputs = [{ data: x, shape }, { data: w, shape: [c] }, { data: b, shape: [c] }];
      const fused = await gradsOf(f, inputs, g, false);
      const composed = await gradsOf(f, inputs, g, true);
      const e = ref.batchNormGrad(x, s, g, { weight: w, running });
      // two f32 evaluations of the same formula in different orders
      for (let k = 0; k < 3; k++) expectClose(fused[k], composed[k], { rtol: 1e-4, atol: 1e-4 }, `fused vs composed ${k}`);
      expectClose(fused[0], e.dx, { rtol: 1e-4, atol: 1e-4 }, 'dx');
      expectClose(fused[1], e.dw, { rtol: 1e-4, atol: 1e-4 }, 'dweight');
      expectClose(fused[2], e.db, { rtol: 1e-4, atol: 1e-4 }, 'dbias');
    });
  }

  test('grad-of-grad (composed rule) vs finite differences of the reference gradient', async () => {
    const shape = [2, 3, 5, 7];
    const r = rng(18);
    const c = shape[1];
    const s = ref.bnShape(shape);
    const x = f32(randArray(prod(shape), r, -1, 2)), w = f32(randArray(c, r, 0.5, 1.5)), b = f32(randArray(c, r));
    const u = f32(randArray(prod(shape), r)); // weights of the first loss
    const v = f32(randArray(prod(shape), r)), q = f32(randArray(c, r)); // weights of Σ v·dx + Σ q·dw
    const xt = T(x, shape, true), wt = T(w, [c], true), bt = T(b, [c], true);
    const y = batchNorm2d(xt, null, null, wt, bt, { training: true });
    const [gx, gw] = sl.grad(sl.sum(sl.mul(y, T(u, shape))), [xt, wt], { createGraph: true });
    const second = sl.add(sl.sum(sl.mul(gx!, T(v, shape))), sl.sum(sl.mul(gw!, T(q, [c]))));
    const [hx, hw] = sl.grad(second, [xt, wt]);
    const phi = (xd: Float64Array, wd: Float64Array) => {
      const e = ref.batchNormGrad(xd, s, u, { weight: wd });
      return dot(e.dx, v) + dot(e.dw, q);
    };
    // second derivatives through 1/σ³ terms, composed from ~20 f32 ops
    const tol = { rtol: 2e-4, atol: 1e-4 };
    expectClose(await hx!.read(), finiteDiff((xd) => phi(xd, w), x), tol, 'd²/dx');
    expectClose(await hw!.read(), finiteDiff((wd) => phi(x, wd), w), tol, 'd²/dweight');
  });

  test('running statistics stay off the tape', async () => {
    const shape = [2, 3, 4, 5];
    const r = rng(19);
    const rmT = T(new Float64Array(3), [3]), rvT = T(new Float64Array(3).fill(1), [3]);
    const xt = T(randArray(prod(shape), r), shape, true);
    const y = batchNorm2d(xt, rmT, rvT, null, null, { training: true });
    expect(y.node?.inputs).toEqual([xt]);
    expect(rmT.requiresGrad || rvT.requiresGrad || rmT.node !== null || rvT.node !== null).toBe(false);
    const before = await rmT.read();
    sl.grad(sl.sum(y), [xt]); // a backward pass must not move the running statistics
    expectClose(await rmT.read(), before, { rtol: 0, atol: 0 }, 'running mean after backward');
  });

  test('errors name the op and the shapes', () => {
    const x = T(new Float64Array(2 * 3 * 4), [2, 3, 4]);
    expect(() => batchNorm2d(x, null, null, T([1, 1], [2]), null, { training: true })).toThrow(/batchNorm2d: weight \[2\] must be \[3\] for input \[2, 3, 4\]/);
    expect(() => batchNorm2d(x, null, null, null, null, { training: false })).toThrow(/batchNorm2d: eval mode needs runningMean/);
    expect(() => batchNorm2d(T([1, 2], [1, 2]), null, null, null, null, { training: true })).toThrow(/more than one value per channel, got input \[1, 2\]/);
  });
});

// ---- max pooling ----------------------------------------------------------------

describe('maxPool2d', () => {
  const cases: { shape: number[]; k: [number, number]; s: [number, number]; p: [number, number] }[] = [
    { shape: [3, 5, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1] },
    { shape: [2, 3, 7, 9], k: [2, 2], s: [2, 2], p: [0, 0] }, // floor mode drops the last row and column
    { shape: [2, 2, 11, 6], k: [3, 2], s: [1, 2], p: [1, 0] },
    { shape: [1, 3, 13, 13], k: [5, 5], s: [3, 3], p: [2, 2] },
    // 2×2, stride 2, even height: the `_2x2` entries, odd and even widths.
    // An even one reads quads of windows (forward_2x2_quads), the bottom row
    // as whole vec4s when the width is a multiple of 4; a row's last quad
    // holds 1–3 windows unless the output width is a multiple of 4.
    { shape: [2, 3, 8, 9], k: [2, 2], s: [2, 2], p: [0, 0] },
    { shape: [3, 2, 6, 10], k: [2, 2], s: [2, 2], p: [0, 0] }, // 5 windows: 4 + 1, bottom split
    { shape: [2, 3, 4, 8], k: [2, 2], s: [2, 2], p: [0, 0] }, // 4: no partial quad, bottom whole
    { shape: [2, 3, 6, 14], k: [2, 2], s: [2, 2], p: [0, 0] }, // 7: 4 + 3
    { shape: [3, 1, 4, 6], k: [2, 2], s: [2, 2], p: [0, 0] }, // 3: a partial quad alone
    { shape: [1, 2, 4, 16], k: [2, 2], s: [2, 2], p: [0, 0] }, // 8: two whole quads
  ];
  const geoOf = (c: (typeof cases)[number]): PoolGeometry => ({ kernel: c.k, stride: c.s, padding: c.p });

  for (const c of cases) {
    const label = `${JSON.stringify(c.shape)} k${c.k} s${c.s} p${c.p}`;
    test(`forward values and argmax ${label}`, async () => {
      const x = f32(randArray(prod(c.shape), rng(prod(c.shape)), -3, 3));
      const e = ref.maxPool(x, c.shape, c);
      const { out, indices } = maxPool2dWithIndices(T(x, c.shape), c.k, { stride: c.s, padding: c.p });
      expect(out.shape).toEqual(e.outShape);
      // a max and an index are exact
      expectClose(await out.read(), e.out, { rtol: 0, atol: 0 }, 'max');
      expectClose(await indices.read(), e.idx, { rtol: 0, atol: 0 }, 'argmax');
      // no gradient wanted: the kernel writes no argmax, the values are the same
      expectClose(await maxPool2d(T(x, c.shape), c.k, { stride: c.s, padding: c.p }).read(), e.out, { rtol: 0, atol: 0 }, 'max without argmax');
    });

    test(`backward (gather) vs finite differences ${label}`, async () => {
      const x = randArray(prod(c.shape), rng(prod(c.shape) + 1), -3, 3);
      // piecewise linear: central differences are exact away from ties
      await checkGrads(
        ([xt]) => maxPool2d(xt, c.k, { stride: c.s, padding: c.p }),
        ([xd]) => ref.maxPool(xd, c.shape, c).out,
        [{ data: x, shape: c.shape }],
        { rtol: 1e-6, atol: 1e-6 }, 'maxpool',
      );
    });
  }

  // Planes wider than a workgroup's 64 outputs, and more planes (65,539) than
  // one grid axis could hold if the kernels were ever given a plane axis.
  const gridCases = [
    { shape: [2, 3, 37, 71], k: [2, 2] as [number, number], s: [2, 2] as [number, number], p: [0, 0] as [number, number] },
    { shape: [1, 65539, 2, 3], k: [2, 2] as [number, number], s: [1, 1] as [number, number], p: [0, 0] as [number, number] },
    // the `_2x2` entries: rows of 129 outputs (lanes loop over columns), and
    // rows of 3 (21 rows of lanes per workgroup, the last workgroup partial)
    { shape: [2, 3, 38, 258], k: [2, 2] as [number, number], s: [2, 2] as [number, number], p: [0, 0] as [number, number] },
    { shape: [5, 7, 20, 7], k: [2, 2] as [number, number], s: [2, 2] as [number, number], p: [0, 0] as [number, number] },
    // even widths (forward_2x2_quads): rows of 6 windows (a whole quad and 2),
    // and of 129 (32 quads and 1)
    { shape: [5, 7, 20, 12], k: [2, 2] as [number, number], s: [2, 2] as [number, number], p: [0, 0] as [number, number] },
    { shape: [3, 2, 6, 258], k: [2, 2] as [number, number], s: [2, 2] as [number, number], p: [0, 0] as [number, number] },
  ];
  for (const c of gridCases) {
    test(`forward and backward over many or wide planes ${JSON.stringify(c.shape)}`, async () => {
      const r = rng(prod(c.shape) + 5);
      const x = f32(randArray(prod(c.shape), r, -3, 3));
      const e = ref.maxPool(x, c.shape, c);
      const { out, indices } = maxPool2dWithIndices(T(x, c.shape), c.k, { stride: c.s, padding: c.p });
      expectClose(await out.read(), e.out, { rtol: 0, atol: 0 }, 'max');
      expectClose(await indices.read(), e.idx, { rtol: 0, atol: 0 }, 'argmax');
      const g = f32(randArray(e.out.length, r));
      const dx = maxPool2dBackward(T(g, e.outShape), indices, c.shape, geoOf(c));
      expectClose(await dx.read(), ref.maxPoolBackward(g, e.idx, c.shape, e.outShape), { rtol: 1e-6, atol: 1e-6 }, 'backward');
    });
  }

  test('2×2 windows: ties go to the first maximum, a NaN wins over numbers, as in the general kernel', async () => {
    const N = NaN;
    // two windows: all equal; a NaN after a number, another NaN later
    const rows = [[1, 1, 2, N], [1, 1, 3, N]];
    const fast = maxPool2dWithIndices(T(rows.flat(), [1, 1, 2, 4]), 2); // the `_2x2` entry
    const general = maxPool2dWithIndices(T([...rows.flat(), 9, 9, 9, 9], [1, 1, 3, 4]), 2); // odd height: the general one
    expect(Array.from(await fast.out.read())).toEqual([1, NaN]);
    expect(Array.from(await fast.indices.read())).toEqual([0, 3]);
    expect(Array.from(await general.out.read())).toEqual([1, NaN]);
    expect(Array.from(await general.indices.read())).toEqual([0, 3]);
    const g = T([5, -7], [1, 1, 1, 2]);
    expect(Array.from(await maxPool2dBackward(g, fast.indices, [1, 1, 2, 4], geoOf(cases[4])).read())).toEqual([5, 0, 0, -7, 0, 0, 0, 0]);
  });

  test('grad-of-grad: the backward is linear in g and its gradient gathers at the argmax', async () => {
    const c = cases[0];
    const r = rng(21);
    const x = f32(randArray(prod(c.shape), r, -3, 3));
    const e = ref.maxPool(x, c.shape, c);
    const wv = f32(randArray(e.out.length, r)), v = f32(randArray(x.length, r));
    const xt = T(x, c.shape, true), wt = T(wv, e.outShape, true);
    const [gx] = sl.grad(sl.sum(sl.mul(maxPool2d(xt, c.k, { stride: c.s, padding: c.p }), wt)), [xt], { createGraph: true });
    expectClose(await gx!.read(), ref.maxPoolBackward(wv, e.idx, c.shape, e.outShape), { rtol: 1e-6, atol: 1e-6 }, 'first gradient');
    const [gw] = sl.grad(sl.sum(sl.mul(gx!, T(v, c.shape))), [wt]);
    expectClose(await gw!.read(), ref.gatherAt(v, e.idx, c.shape, e.outShape), { rtol: 0, atol: 0 }, 'gradient of the backward');
  });

  test('maxPool2dBackward and maxPool2dGather: adjoint pair, with and without the geometry', async () => {
    const c = cases[2];
    const r = rng(22);
    const x = f32(randArray(prod(c.shape), r, -3, 3));
    const e = ref.maxPool(x, c.shape, c);
    const g = randArray(e.out.length, r), src = randArray(x.length, r);
    const idx = T(e.idx, e.outShape);
    const exact = { rtol: 1e-6, atol: 1e-6 };
    const expected = ref.maxPoolBackward(f32(g), e.idx, c.shape, e.outShape);
    expectClose(await maxPool2dBackward(T(g, e.outShape), idx, c.shape, geoOf(c)).read(), expected, exact, 'with geometry');
    expectClose(await maxPool2dBackward(T(g, e.outShape), idx, c.shape).read(), expected, exact, 'searching the plane');
    await checkGrads(
      ([gt]) => maxPool2dBackward(gt, idx, c.shape),
      ([gd]) => ref.maxPoolBackward(gd, e.idx, c.shape, e.outShape),
      [{ data: g, shape: e.outShape }], { rtol: 1e-6, atol: 1e-6 }, 'backward op',
    );
    await checkGrads(
      ([st]) => maxPool2dGather(st, idx, geoOf(c)),
      ([sd]) => ref.gatherAt(sd, e.idx, c.shape, e.outShape),
      [{ data: src, shape: c.shape }], { rtol: 1e-6, atol: 1e-6 }, 'gather op',
    );
  });

  test('errors name the op and the shapes', () => {
    expect(() => maxPool2d(T(new Float64Array(12), [3, 4]), 2)).toThrow(/maxPool2d: input \[3, 4\] must be \[N, C, H, W\]/);
    expect(() => maxPool2d(T(new Float64Array(8), [1, 2, 2, 2]), 3)).toThrow(/maxPool2d: input \[1, 2, 2, 2\] is too small for kernel 3×3/);
    expect(() => maxPool2d(T(new Float64Array(50), [1, 2, 5, 5]), 2, { padding: 2 })).toThrow(/padding must be at most half the kernel/);
    const idx = T(new Float64Array(4), [1, 1, 2, 2]);
    expect(() => maxPool2dBackward(T(new Float64Array(6), [1, 1, 2, 3]), idx, [1, 1, 4, 4])).toThrow(/gradient \[1, 1, 2, 3\] and indices \[1, 1, 2, 2\]/);
  });
});

// ---- dropout ----------------------------------------------------------------

describe('dropout', () => {
  const n = 100_003;
  const p = 0.3;

  test('mask: exact per seed, fraction kept and mean within 5σ of the binomial', async () => {
    const ones = sl.ones([n]);
    const a = await dropout(ones, p, { seed: 1234 }).read();
    const b = await dropout(ones, p, { seed: 1234 }).read();
    const other = await dropout(ones, p, { seed: 1235 }).read();
    expectClose(b, a, { rtol: 0, atol: 0 }, 'same seed');
    const keep = ref.dropoutKeep(1234, n, p);
    const scale = Math.fround(1 / (1 - p));
    expectClose(a, Float64Array.from(keep, (k) => k * scale), { rtol: 0, atol: 0 }, 'mask vs the reference hash');
    const kept = keep.reduce((s, k) => s + k, 0);
    // kept ~ Binomial(n, 1 − p): σ = √(n p (1 − p)) ≈ 145 → 5σ ≈ 0.0072 of the fraction
    const sigma = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(kept - n * (1 - p))).toBeLessThan(5 * sigma);
    // mean of the output = kept·scale/n: 1 within 5σ/(n(1 − p)) ≈ 0.01
    const meanOut = a.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(meanOut - 1)).toBeLessThan((5 * sigma) / (n * (1 - p)));
    // another seed: an unrelated mask differs in ≈ 2p(1 − p) = 42 % of places
    let differ = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) !== (other[i] === 0)) differ++;
    expect(Math.abs(differ / n - 2 * p * (1 - p))).toBeLessThan(0.01);
  });

  test('global seed: manualSeed reproduces the mask, the next call draws a new one', async () => {
    const x = sl.ones([4099]);
    sl.manualSeed(77);
    const a = await dropout(x, 0.5).read();
    const b = await dropout(x, 0.5).read();
    sl.manualSeed(77);
    const c = await dropout(x, 0.5).read();
    expectClose(c, a, { rtol: 0, atol: 0 }, 'manualSeed');
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });

  test('backward multiplies by the same mask; grad-of-grad too', async () => {
    const m = 1031;
    const r = rng(31);
    const x = f32(randArray(m, r)), w = f32(randArray(m, r)), v = f32(randArray(m, r));
    const keep = ref.dropoutKeep(99, m, 0.25);
    const scale = Math.fround(1 / 0.75);
    const xt = T(x, [m], true), wt = T(w, [m], true);
    const y = dropout(xt, 0.25, { seed: 99 });
    expectClose(await y.read(), Float64Array.from(x, (xi, i) => keep[i] * xi * scale), { rtol: 1e-7, atol: 0 }, 'forward');
    const [gx] = sl.grad(sl.sum(sl.mul(y, wt)), [xt], { createGraph: true });
    expectClose(await gx!.read(), Float64Array.from(w, (wi, i) => keep[i] * wi * scale), { rtol: 1e-7, atol: 0 }, 'backward');
    const [gw] = sl.grad(sl.sum(sl.mul(gx!, T(v, [m]))), [wt]);
    expectClose(await gw!.read(), Float64Array.from(v, (vi, i) => keep[i] * vi * scale), { rtol: 1e-7, atol: 0 }, 'grad-of-grad');
  });

  test('p = 0 and eval are the identity; p = 1 drops everything; bad p throws', async () => {
    const x = f32(randArray(257, rng(32)));
    expectClose(await dropout(T(x, [257]), 0).read(), x, { rtol: 0, atol: 0 }, 'p = 0');
    expectClose(await dropout(T(x, [257]), 0.5, { training: false }).read(), x, { rtol: 0, atol: 0 }, 'eval');
    expectClose(await dropout(T(x, [257]), 1).read(), new Float64Array(257), { rtol: 0, atol: 0 }, 'p = 1');
    expect(() => dropout(T(x, [257]), 1.5)).toThrow(/dropout: probability 1.5 for input \[257\]/);
  });
});

// ---- softmax and cross-entropy -------------------------------------------------

describe('softmax, logSoftmax', () => {
  // exp/log in f32 on O(1) values
  const TOL = { rtol: 1e-5, atol: 2e-6 };
  for (const [shape, axis] of [[[3, 5, 7], 1], [[4, 67], -1], [[2, 3, 5], 0]] as [number[], number][]) {
    test(`forward and gradients ${JSON.stringify(shape)} axis ${axis}`, async () => {
      const x = f32(randArray(prod(shape), rng(prod(shape)), -4, 4));
      const a = axis < 0 ? axis + shape.length : axis;
      const lsm = (xd: ArrayLike<number>) => ref.alongAxis(xd, shape, a, ref.logSoftmax);
      const sm = (xd: ArrayLike<number>) => lsm(xd).map(Math.exp);
      expectClose(await logSoftmax(T(x, shape), axis).read(), lsm(x), TOL, 'logSoftmax');
      expectClose(await softmax(T(x, shape), axis).read(), sm(x), TOL, 'softmax');
      const G = { rtol: 1e-4, atol: 1e-5 };
      await checkGrads(([t]) => logSoftmax(t, axis), ([xd]) => lsm(xd), [{ data: x, shape }], G, 'logSoftmax');
      await checkGrads(([t]) => softmax(t, axis), ([xd]) => sm(xd), [{ data: x, shape }], G, 'softmax');
    });
  }
});

describe('crossEntropy', () => {
  const reductions: ref.Reduction[] = ['mean', 'sum', 'none'];
  const labelsFor = (n: number, c: number, r: () => number) => Array.from({ length: n }, () => Math.floor(r() * c));

  for (const [n, c] of [[7, 5], [3, 131]]) {
    for (const eps of [0, 0.1]) {
      test(`forward, all reductions, [${n}, ${c}] smoothing ${eps}`, async () => {
        const r = rng(n * c + eps * 10);
        const x = f32(randArray(n * c, r, -5, 5));
        const labels = labelsFor(n, c, r);
        for (const reduction of reductions) {
          const fromArray = crossEntropy(T(x, [n, c]), labels, { reduction, labelSmoothing: eps });
          const fromTensor = crossEntropy(T(x, [n, c]), T(labels, [n]), { reduction, labelSmoothing: eps });
          expect(fromArray.shape).toEqual(reduction === 'none' ? [n] : []);
          // log Σ exp in f32 over ≤ 131 terms, then at most a sum over rows
          expectClose(await fromArray.read(), ref.crossEntropy(x, c, labels, reduction, eps), { rtol: 1e-6, atol: 1e-6 }, reduction);
          expectClose(await fromTensor.read(), await fromArray.read(), { rtol: 0, atol: 0 }, 'tensor labels');
        }
      });

      test(`gradient vs finite differences, [${n}, ${c}] smoothing ${eps}`, async () => {
        const r = rng(n * c + eps * 10 + 1);
        const x = randArray(n * c, r, -3, 3);
        const labels = labelsFor(n, c, r);
        for (const reduction of reductions) {
          await checkGrads(
            ([t]) => crossEntropy(t, labels, { reduction, labelSmoothing: eps }),
            ([xd]) => ref.crossEntropy(xd, c, labels, reduction, eps),
            [{ data: x, shape: [n, c] }], { rtol: 1e-4, atol: 1e-5 }, `xent ${reduction}`,
          );
        }
      });
    }
  }

  test('large logits (±80, one row at 200): finite loss and gradient, fused and composed agree with the reference', async () => {
    const [n, c] = [9, 13];
    const r = rng(41);
    const x = f32(randArray(n * c, r, -80, 80));
    x[0] = 80; x[1] = -80; x[c] = 79.5; // some rows with a dominant class
    x[2 * c + 3] = 200; // exp(200) overflows f32: only a max-shifted sum survives
    const labels = labelsFor(n, c, r);
    labels[0] = 1; // the loss of a label at −80 under a logit at +80 is 160
    for (const reduction of reductions) {
      // |loss| up to ~160: relative f32 rounding of the shifted logits
      expectClose(await crossEntropy(T(x, [n, c]), labels, { reduction }).read(), ref.crossEntropy(x, c, labels, reduction), { rtol: 1e-6, atol: 2e-5 }, reduction);
      const g = reduction === 'none' ? f32(randArray(n, r)) : [1];
      const f = ([t]: sl.Tensor[]) => crossEntropy(t, labels, { reduction });
      const fused = (await gradsOf(f, [{ data: x, shape: [n, c] }], g, false))[0];
      const composed = (await gradsOf(f, [{ data: x, shape: [n, c] }], g, true))[0];
      const e = ref.crossEntropyGrad(x, c, labels, g, reduction);
      // softmax probabilities ≤ 1: absolute error of a few ulp
      expectClose(fused, e, { rtol: 1e-6, atol: 1e-7 }, `fused ${reduction}`);
      expectClose(composed, e, { rtol: 1e-6, atol: 1e-7 }, `composed ${reduction}`);
    }
  });

  test('grad-of-grad (composed rule) vs finite differences of the reference gradient', async () => {
    const [n, c] = [5, 7];
    const r = rng(42);
    const x = f32(randArray(n * c, r, -3, 3));
    const labels = labelsFor(n, c, r);
    const v = f32(randArray(n * c, r));
    for (const eps of [0, 0.2]) {
      const xt = T(x, [n, c], true);
      const [gx] = sl.grad(crossEntropy(xt, labels, { labelSmoothing: eps }), [xt], { createGraph: true });
      const [hx] = sl.grad(sl.sum(sl.mul(gx!, T(v, [n, c]))), [xt]);
      const phi = (xd: Float64Array) => dot(ref.crossEntropyGrad(xd, c, labels, [1], 'mean', eps), v);
      expectClose(await hx!.read(), finiteDiff(phi, x), { rtol: 1e-4, atol: 1e-6 }, `d² smoothing ${eps}`);
    }
  });

  test('label errors: host labels are checked, tensor labels are clamped in the shader', async () => {
    const x = T(new Float64Array(12), [3, 4]);
    expect(() => crossEntropy(x, [0, 4, 1])).toThrow(/crossEntropy: label 4 at row 1 is not a class index in \[0, 4\) for logits \[3, 4\]/);
    expect(() => crossEntropy(x, [0, 1])).toThrow(/2 labels for logits \[3, 4\]/);
    expect(() => crossEntropy(x, T([0, 1], [2]))).toThrow(/labels \[2\] do not match logits \[3, 4\]/);
    expect(() => crossEntropy(T(new Float64Array(12), [12]), [0])).toThrow(/logits \[12\] must be \[N, C\]/);
    const logits = f32(randArray(12, rng(43), -2, 2));
    const clamped = await crossEntropy(T(logits, [3, 4]), T([-5, 9, 2], [3]), { reduction: 'none' }).read();
    expectClose(clamped, ref.crossEntropy(logits, 4, [0, 3, 2], 'none'), { rtol: 1e-5, atol: 1e-6 }, 'clamped');
  });
});
