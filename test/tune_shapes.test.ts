// tuneShapes(step): every (op, shape) the step dispatches with more than one
// candidate kernel is timed per candidate and the fastest kept for that
// shape; the ops then use it, a forced variant overrides it, and the tune
// store keeps it for the next process.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectClose, setup, sl } from './helpers.js';
import { shapeChoice, timeSite, type TuneResult } from '../runtime/tune.js';

beforeAll(setup);

const saved = { matmul: sl.matmulVariant(), conv: sl.convVariant(), convGrad: sl.convGradVariant() };
afterAll(() => {
  // the setters also drop the per-shape choices made here
  sl.setMatmulVariant(saved.matmul);
  sl.setConvVariant(saved.conv);
  sl.setConvGradVariant(saved.convGrad);
  sl.setTuneStore(null);
});

// A small critic-like step: 3 → 8 → 16 channels, 5×5 stride 2, then a linear layer.
function makeStep() {
  const x = sl.rand([4, 3, 20, 20], { seed: 1 });
  const w1 = sl.randn([8, 3, 5, 5], { std: 0.2, seed: 2 }).requiresGrad_();
  const w2 = sl.randn([16, 8, 5, 5], { std: 0.1, seed: 3 }).requiresGrad_();
  const wl = sl.randn([1, 16 * 5 * 5], { std: 0.05, seed: 4 }).requiresGrad_();
  const step = (): sl.Tensor[] =>
    sl.tidy(() => {
      let h = sl.leakyRelu(sl.conv2d(x, w1, null, { stride: 2, padding: 2 }), 0.2);
      h = sl.leakyRelu(sl.conv2d(h, w2, null, { stride: 2, padding: 2 }), 0.2);
      const loss = sl.sum(sl.linear(sl.reshape(h, [4, -1]), wl));
      return [loss, ...(sl.grad(loss, [w1, w2, wl]) as sl.Tensor[])];
    });
  return { step, free: () => [x, w1, w2, wl].forEach((t) => t.dispose()) };
}

describe('tuneShapes', () => {
  // Without subgroups the forward/data kernels have one candidate each: nothing to choose.
  test('times every candidate of every site the step dispatches, keeps the fastest, and the ops use it', async (ctx) => {
    if (!sl.hasSubgroups(8)) ctx.skip();
    const { step, free } = makeStep();
    const before = await Promise.all(step().map((t) => t.read()));
    const stored = new Map<string, TuneResult>();
    sl.setTuneStore({ get: (k) => stored.get(k), set: (k, r) => void stored.set(k, JSON.parse(JSON.stringify(r))) });

    const sites = await sl.tuneShapes(() => step().forEach((t) => t.dispose()));
    const families = new Set(sites.map((s) => s.family));
    // layer 2's forward reduces over 8 channels (fwd), layer 1's over 3 (fwd_taps): both are sites
    expect(families).toEqual(new Set(['conv-fwd', 'conv-data', 'conv-grad', 'matmul']));
    expect(sites.filter((s) => s.family === 'conv-fwd').map((s) => s.key)).toEqual([
      '4×3×20×20→8×10×10 k5×5 s2×2 p2×2 d1×1', '4×8×10×10→16×5×5 k5×5 s2×2 p2×2 d1×1',
    ]);
    expect(sites.filter((s) => s.family === 'conv-grad')).toHaveLength(2);
    for (const s of sites) {
      const names = Object.keys(s.timings);
      expect(names.length, `${s.family} ${s.key}`).toBeGreaterThan(1);
      expect(names.every((v) => Number.isFinite(s.timings[v]) && s.timings[v] > 0)).toBe(true);
      expect(s.timings[s.chosen]).toBe(Math.min(...Object.values(s.timings)));
      expect(shapeChoice(s.family, s.key)).toBe(s.chosen);
    }

    // The same results with the per-shape choices in force (each kernel is tested elsewhere).
    const after = await Promise.all(step().map((t) => t.read()));
    after.forEach((v, i) => expectClose(v, before[i], { rtol: 1e-4, atol: 1e-5 }, `output ${i}`));

    // The chosen kernel is the one dispatched for that shape (layer 2's
    // forward is the only one that may use these entries; layer 1's would
    // use fwd_taps or the plain kernel).
    const fwd = sites.find((s) => s.family === 'conv-fwd' && s.key.startsWith('4×8×'))!;
    const entryOf: Record<string, string> = {
      plain: 'conv2d.wgsl:fwd', subgroup: 'conv2d_subgroup.wgsl:fwd', subgroup16: 'conv2d_subgroup.wgsl:fwd', rows16: 'conv2d_rows_k5_s2:fwd_rows',
    };
    const expectFwd = async (variant: string) => {
      const ran = (await sl.profile(() => step().forEach((t) => t.dispose()))).map((t) => t.kernel);
      expect(ran, `${variant} in force`).toContain(entryOf[variant]);
      for (const other of new Set(Object.values(entryOf))) {
        if (other !== entryOf[variant] && other !== 'conv2d.wgsl:fwd') expect(ran, `${variant} in force`).not.toContain(other);
      }
    };
    await expectFwd(fwd.chosen);

    // Stored with the adapter's result; a second call reuses every choice without timing.
    const entry = [...stored.values()][0];
    expect(Object.keys(entry.shapes ?? {})).toHaveLength(sites.length);
    const again = await sl.tuneShapes(() => step().forEach((t) => t.dispose()));
    expect(again.map((s) => [s.family, s.key, s.chosen])).toEqual(sites.map((s) => [s.family, s.key, s.chosen]));
    expect(again.every((s) => Object.keys(s.timings).length === 0)).toBe(true);

    // Forcing a variant drops the per-shape choices of that family only.
    const opposite = fwd.chosen === 'plain' ? 'subgroup' : 'plain';
    sl.setConvVariant(opposite);
    expect(shapeChoice('conv-fwd', fwd.key)).toBeUndefined();
    const grad = sites.find((s) => s.family === 'conv-grad')!;
    expect(shapeChoice('conv-grad', grad.key)).toBe(grad.chosen);
    await expectFwd(opposite);
    // ...and tuneShapes() leaves a forced family alone (no sites, the force kept)
    const afterForce = await sl.tuneShapes(() => step().forEach((t) => t.dispose()));
    expect(afterForce.some((s) => s.family === 'conv-fwd' || s.family === 'conv-data')).toBe(false);
    expect(sl.convVariant()).toBe(opposite);
    await expectFwd(opposite);
    // tune() hands the family back to the tuner, per-shape choices included
    await sl.tune();
    expect(shapeChoice('conv-fwd', fwd.key)).toBe(fwd.chosen);
    free();
  }, 120_000);
});

// A site slower than 50 ms a run is timed once per variant after its
// compile run; the variants within 25 % of the best then run once more,
// alternated (one run alone decides only a clear winner).
test('slow sites: a second run for the variants close to the best, none for a clear loser', async () => {
  const cost: Record<string, number> = { a: 60, b: 61, c: 200 };
  const runs: string[] = [];
  const spin = (ms: number) => { const t0 = performance.now(); while (performance.now() - t0 < ms); };
  const t = await timeSite({ family: 'test', key: 'slow', variants: ['a', 'b', 'c'], run: (v) => { runs.push(v); spin(cost[v]); } });
  expect(runs).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b']);
  for (const v of ['a', 'b', 'c']) expect(t[v]).toBeGreaterThanOrEqual(cost[v]);
  // a clear winner: no second run
  runs.length = 0;
  cost.b = 150;
  await timeSite({ family: 'test', key: 'slow', variants: ['a', 'b', 'c'], run: (v) => { runs.push(v); spin(cost[v]); } });
  expect(runs).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
});
