// Kernels whose lanes stride over their items (engine.ts gridStride) must give
// the same bits however many workgroups run. Each op here runs with one item
// per lane, then with at most 3 workgroups, so every lane loops many times:
// an item skipped, or updated twice in place (the optimisers), shows as a
// difference. A spy checks that the strided run really launched that few
// workgroups for every kernel entry named below, so none is left untested.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { f32, prod, randArray, rng, setup, sl, T } from './helpers.js';
import { getGridStride, gridStride, setGridStride, type GridStride } from '../runtime/engine.js';
import { bnSplit } from '../runtime/ops/norm.js';

let chosen: GridStride;
beforeAll(async () => {
  await setup();
  chosen = getGridStride();
});
afterAll(() => setGridStride(chosen));

type Run = () => sl.Tensor[];

/** Read fn's outputs with one item per lane and with `groups` workgroups; the
 * largest grid each kernel entry got in the second run. */
async function bothWays(groups: number, fn: Run) {
  const e = sl.getEngine();
  const dispatch = e.dispatch;
  const grids = new Map<string, number>();
  const go = async (spy: boolean) => {
    if (spy) {
      e.dispatch = ((k, d) => {
        const key = `${k.file}:${d.entry ?? 'main'}`;
        const [x, y = 1, z = 1] = d.workgroups;
        grids.set(key, Math.max(grids.get(key) ?? 0, x * y * z));
        return dispatch.call(e, k, d);
      }) as typeof e.dispatch;
    }
    try {
      const outs = sl.tidy(fn);
      const reads = await Promise.all(outs.map((t) => t.read()));
      outs.forEach((t) => t.dispose());
      return reads;
    } finally {
      e.dispatch = dispatch;
    }
  };
  setGridStride({ perLane: 1, maxGroups: Infinity });
  const lane = await go(false);
  setGridStride({ perLane: 1, maxGroups: groups });
  try {
    const strided = await go(true);
    return { lane, strided, grids };
  } finally {
    setGridStride(chosen);
  }
}

const r = rng(1207);
const data = (shape: number[], lo = -1, hi = 1) => f32(randArray(prod(shape), r, lo, hi));

test('every strided kernel gives the same bits with 3 workgroups as with one item per lane', async () => {
  const X = [3, 5, 17, 13]; // 3315 items: each of 192 lanes loops 17–18 times
  const x = data(X), y = data(X), pos = data(X, 0.5, 2);
  const b3 = data([85, 1]);
  const g = data(X);
  const chan = data([5]), chanPos = data([5], 0.5, 2);
  const logits = data([37, 11]);
  const labels = Array.from({ length: 37 }, (_, i) => (i * 7) % 11);
  const pooled3 = [3, 5, 9, 7]; // 3×3 window, stride 2, padding 1 over 17×13
  const gp3 = data(pooled3);
  const X2 = [3, 5, 18, 13], gp2 = data([3, 5, 9, 6]);
  const x2 = data(X2);
  const X4 = [3, 5, 18, 38], x4 = data(X4); // 5 quads a row: lanes carry from row to row

  const fn: Run = () => {
    const outs: sl.Tensor[] = [];
    const xt = T(x, X);
    outs.push(sl.exp(xt), sl.leakyRelu(xt, 0.2));                                 // unary
    outs.push(sl.add(xt, T(y, X)), sl.div(T(y, X), T(pos, X)));                // binary same
    outs.push(sl.mul(T(x, [3, 85, 13]), T(b3, [85, 1])));                       // binary main (rank 3)
    outs.push(sl.sub(T(x.subarray(0, 3250), [25, 130]), T(y.subarray(0, 130), [1, 130]))); // binary rows (rank 2)
    outs.push(sl.windowedFrames(T(x, [3315]), T(y.subarray(0, 130), [130]), 24, 131)); // binary rows (framing)
    outs.push(sl.complexAbs2(T(x.subarray(0, 3314), [1657, 2])), sl.complexAbs2(T(x.subarray(0, 3314), [1657, 2]), { complex: true })); // fft abs2
    outs.push(sl.full([1001], 2.5), sl.rand([999], { seed: 5 }), sl.randn([997], { seed: 6 })); // fill
    outs.push(sl.permute(xt, [0, 3, 1, 2]), sl.pad(xt, [[0, 0], [1, 0], [2, 1], [0, 3]], -1)); // layout
    outs.push(sl.dropout(xt, 0.3, { seed: 9, training: true }));                // dropout
    outs.push(sl.sum(xt, 3), sl.max(xt, [1, 3]));                               // reduce main
    // batch norm: eval forward, and the training backward's apply
    outs.push(sl.batchNorm2d(xt, T(chan, [5]), T(chanPos, [5]), T(chan, [5]), T(chan, [5]), { training: false }));
    // (bwd_apply serves the statistics split in chunks: forced, small chunks)
    const xg = T(x, X, true);
    const bn = sl.batchNorm2d(xg, null, null, null, null, { training: true });
    const saved = { ...bnSplit };
    Object.assign(bnSplit, { enabled: true, minPerChunk: 64 });
    try {
      outs.push(...(sl.grad(bn, [xg], { gradOutputs: [T(g, X)] }) as sl.Tensor[]));
    } finally {
      Object.assign(bnSplit, saved);
    }
    // max pooling: general window (forward, backward, and gather through the double backward)
    const xp = T(x, X, true);
    const { out, indices } = sl.maxPool2dWithIndices(xp, 3, { stride: 2, padding: 1 });
    const [dx] = sl.grad(out, [xp], { gradOutputs: [T(gp3, pooled3)] }) as sl.Tensor[];
    outs.push(out, indices, dx, sl.maxPool2dGather(xt, indices));
    // the 2×2 entries, which stride over blocks of rows
    const xq = T(x2, X2, true);
    const q = sl.maxPool2dWithIndices(xq, 2);
    outs.push(q.out, q.indices, ...(sl.grad(q.out, [xq], { gradOutputs: [T(gp2, [3, 5, 9, 6])] }) as sl.Tensor[]));
    const q4 = sl.maxPool2dWithIndices(T(x4, X4), 2); // an even width: quads of windows
    outs.push(q4.out, q4.indices);
    // cross-entropy's one-hot target (its composed gradient, taken under a tape)
    const lg = T(logits, [37, 11], true);
    const ce = sl.crossEntropy(lg, labels, { labelSmoothing: 0.1 });
    outs.push(...(sl.grad(ce, [lg], { createGraph: true }) as sl.Tensor[]));
    return outs;
  };
  const { lane, strided, grids } = await bothWays(3, fn);
  expect(strided.length).toBe(lane.length);
  strided.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(lane[i])));
  const entries = [
    'unary.wgsl:main', 'binary.wgsl:same', 'binary.wgsl:main', 'binary.wgsl:rows', 'fill.wgsl:main', 'fft.wgsl:abs2', 'fft.wgsl:abs2_complex', 'layout.wgsl:main', 'dropout.wgsl:main',
    'reduce.wgsl:main', 'batchnorm.wgsl:eval_forward', 'batchnorm.wgsl:bwd_apply', 'maxpool.wgsl:forward',
    'maxpool.wgsl:backward', 'maxpool.wgsl:gather', 'maxpool.wgsl:forward_2x2', 'maxpool.wgsl:forward_2x2_quads',
    'maxpool.wgsl:backward_2x2',
    'softmax_xent.wgsl:onehot',
  ];
  for (const k of entries) {
    expect(grids.has(k), `${k} ran`).toBe(true);
    expect(grids.get(k), `${k} workgroups`).toBeLessThanOrEqual(3);
  }
});

test('the optimisers update each parameter once per step with 3 workgroups', async () => {
  const p0 = data([1003]), g0 = data([1003]);
  const fn: Run = () => {
    const outs: sl.Tensor[] = [];
    for (const make of [
      (ps: sl.Tensor[]) => new sl.optim.Adam(ps, { lr: 0.01, weightDecay: 0.1 }),
      (ps: sl.Tensor[]) => new sl.optim.AdamW(ps, { lr: 0.01 }),
      (ps: sl.Tensor[]) => new sl.optim.SGD(ps, { lr: 0.1, weightDecay: 0.01 }),
      (ps: sl.Tensor[]) => new sl.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true }),
    ]) {
      const p = sl.keep(T(p0, [1003], true));
      const opt = make([p]);
      for (let s = 0; s < 2; s++) {
        p.grad = sl.keep(T(g0, [1003]));
        opt.step();
      }
      outs.push(p);
    }
    return outs;
  };
  const { lane, strided, grids } = await bothWays(3, fn);
  strided.forEach((v, i) => expect(Array.from(v), `optimiser ${i}`).toEqual(Array.from(lane[i])));
  for (const k of ['adam.wgsl:main', 'sgd.wgsl:plain', 'sgd.wgsl:momentum']) {
    expect(grids.has(k), `${k} ran`).toBe(true);
    expect(grids.get(k), `${k} workgroups`).toBeLessThanOrEqual(3);
  }
});

test('the grid stride: items per lane and the workgroup cap, and bad settings refused', () => {
  try {
    setGridStride({ perLane: 16, maxGroups: 4096 });
    expect(gridStride(65536)).toEqual([64, 1, 1]);       // 16 items per lane
    expect(gridStride(100)).toEqual([1, 1, 1]);
    expect(gridStride(16908288)).toEqual([4096, 1, 1]);  // the cap: 64.5 per lane
    setGridStride({ perLane: 1, maxGroups: Infinity });
    expect(gridStride(65 * 64)).toEqual([65, 1, 1]);     // one per lane, as grid1d
    expect(gridStride(70000 * 64)).toEqual([35000, 2, 1]);
  } finally {
    setGridStride(chosen);
  }
  expect(() => setGridStride({ perLane: 0, maxGroups: 8 })).toThrow(/perLane ≥ 1 and maxGroups ≥ 1, got 0 and 8/);
  expect(() => setGridStride({ perLane: 4, maxGroups: NaN })).toThrow(/got 4 and NaN/);
  expect(() => sl.setGridVariant('wide' as sl.GridVariant)).toThrow(/'wide' is not one of lane, stride4, stride16/);
  sl.setGridVariant('stride4');
  expect(sl.gridVariant()).toBe('stride4');
  setGridStride(chosen);
});
