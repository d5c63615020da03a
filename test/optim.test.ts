// Optimisers: the fused Adam/SGD kernels against f64 references of torch's
// update formulas, in-place updates, skipped parameters, checkpointable state,
// and a small model actually learning.
import { beforeAll, describe, expect, test } from 'vitest';
import { T, expectClose, f32, randArray, rng, setup, sl } from './helpers.js';
import * as nn from '../runtime/nn/index.js';
import * as optim from '../runtime/optim/index.js';
import { loadSafetensors, saveSafetensors } from '../runtime/io/safetensors.js';
import { adamRef, adamRefState, sgdRef } from './ref/optim.js';

beforeAll(setup);

// Odd sizes: none divides the kernels' workgroup of 64.
const SHAPES = [[37], [5, 7], [1], [3, 2, 11]];

function makeParams(r: () => number): { ts: sl.Tensor[]; ref: Float64Array[] } {
  const ref = SHAPES.map((s) => f32(randArray(s.reduce((a, b) => a * b, 1), r)));
  return { ts: ref.map((d, i) => T(d, SHAPES[i], true)), ref };
}

describe('Adam', () => {
  // Tolerance: f32 state and arithmetic vs f64 over 6 steps of size ≈ lr;
  // the error is a few f32 ulps of the parameter (|p| ≤ ~1): atol 2e-6, rtol 1e-5.
  const configs = [
    { name: 'plain', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
    { name: 'L2 weight decay', lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
    { name: 'decoupled (AdamW)', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled: true },
  ];
  for (const c of configs) {
    test(`${c.name}: 6 steps match torch's formulas in f64`, async () => {
      const r = rng(11);
      const { ts, ref } = makeParams(r);
      const buffers = ts.map((t) => t.buffer);
      const opt = new optim.Adam(ts, { lr: c.lr, betas: [c.beta1, c.beta2], eps: c.eps, weightDecay: c.weightDecay, decoupled: c.decoupled });
      const states = ref.map((p) => adamRefState(p.length));
      for (let step = 0; step < 6; step++) {
        ts.forEach((t, i) => {
          // Gradients of mixed scale, including tiny ones where eps matters.
          const g = f32(randArray(t.size, r, -1, 1).map((v, k) => (k % 5 === 0 ? v * 1e-4 : v)));
          t.grad = T(g, t.shape);
          adamRef(ref[i], g, states[i], c);
        });
        opt.step();
        opt.zeroGrad();
      }
      for (let i = 0; i < ts.length; i++) {
        expectClose(await ts[i].read(), ref[i], { rtol: 1e-5, atol: 2e-6 }, `${c.name} param ${i}`);
        expect(ts[i].buffer, 'updated in place').toBe(buffers[i]);
        expect(ts[i].grad).toBeNull();
      }
      const sd = opt.stateDict();
      expect(sd.meta.steps).toEqual([6, 6, 6, 6]);
      // Moments: relative to their own scale (v ~ g² ≤ 1).
      expectClose(await sd.tensors['1.exp_avg'].read(), states[1].m, { rtol: 1e-5, atol: 1e-6 }, 'exp_avg');
      expectClose(await sd.tensors['1.exp_avg_sq'].read(), states[1].v, { rtol: 1e-5, atol: 1e-7 }, 'exp_avg_sq');
      opt.dispose();
    });
  }

  test('AdamW class defaults to decoupled decay 0.01', async () => {
    const p = T([1, -2, 3], [3], true);
    const opt = new optim.AdamW([p], { lr: 0.1 });
    expect(opt.decoupled).toBe(true);
    expect(opt.weightDecay).toBe(0.01);
    const ref = f32([1, -2, 3]);
    const s = adamRefState(3);
    p.grad = T([0.5, 0.5, -0.5], [3]);
    opt.step();
    adamRef(ref, [0.5, 0.5, -0.5], s, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true });
    expectClose(await p.read(), ref, { rtol: 1e-6, atol: 1e-6 }, 'AdamW');
  });

  test('a parameter without a gradient is skipped and keeps its own step count', async () => {
    const a = T([1, 2, 3], [3], true), b = T([4, 5], [2], true);
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    const ra = f32([1, 2, 3]), rb = f32([4, 5]);
    const sa = adamRefState(3), sb = adamRefState(2);
    const o = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    a.grad = T([1, -1, 0.5], [3]);
    opt.step();
    adamRef(ra, [1, -1, 0.5], sa, o);
    expect(Array.from(await b.read())).toEqual([4, 5]);
    a.grad = T([0.2, 0.3, -0.4], [3]);
    b.grad = T([-2, 3], [2]);
    opt.step();
    adamRef(ra, [0.2, 0.3, -0.4], sa, o);
    adamRef(rb, [-2, 3], sb, o); // b's first step: bias correction for t = 1
    expect(opt.stateDict().meta.steps).toEqual([2, 1]);
    expectClose(await a.read(), ra, { rtol: 1e-6, atol: 1e-6 }, 'a');
    expectClose(await b.read(), rb, { rtol: 1e-6, atol: 1e-6 }, 'b');
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });

  test('state dict round trip through safetensors resumes identically', async () => {
    const r = rng(5);
    const init = f32(randArray(29, r));
    const grads = Array.from({ length: 5 }, () => f32(randArray(29, r)));
    const pa = T(init, [29], true);
    const a = new optim.Adam([pa], { lr: 0.05, weightDecay: 0.01 });
    for (let s = 0; s < 3; s++) {
      pa.grad = T(grads[s], [29]);
      a.step();
    }
    const sd = a.stateDict();
    const bytes = await saveSafetensors(sd.tensors, { optimizer: JSON.stringify(sd.meta) });
    const pb = T(await pa.read(), [29], true);
    const b = new optim.Adam([pb], { lr: 1 }); // hyperparameters come from the checkpoint
    const loaded = loadSafetensors(bytes);
    b.loadStateDict({ tensors: loaded.tensors, meta: JSON.parse(loaded.metadata.optimizer) });
    for (const t of Object.values(loaded.tensors)) t.dispose();
    expect(b.lr).toBe(0.05);
    for (let s = 3; s < 5; s++) {
      pa.grad = T(grads[s], [29]);
      pb.grad = T(grads[s], [29]);
      a.step();
      b.step();
    }
    expect(Array.from(await pb.read())).toEqual(Array.from(await pa.read()));
    expect(() => new optim.SGD([pb], { lr: 1 }).loadStateDict(sd)).toThrow(/state is for Adam/);
  });

  test('bad arguments are refused with clear messages', () => {
    const p = T([1], [1], true);
    expect(() => new optim.Adam([])).toThrow(/empty parameter list/);
    expect(() => new optim.Adam([p], { lr: -1 })).toThrow(/invalid lr -1/);
    expect(() => new optim.Adam([p], { betas: [1, 0.9] })).toThrow(/invalid beta1 1/);
    expect(() => new optim.Adam([sl.mul(p, 2)])).toThrow(/not a leaf/);
    const opt = new optim.Adam([p]);
    p.grad = T([1, 2], [2]);
    expect(() => opt.step()).toThrow(/gradient \[2\] does not match parameter .*\[1\]/);
    p.grad = null;
  });
});

describe('SGD', () => {
  // Tolerance: a few f32 ulps per step over 6 steps: atol 2e-6, rtol 1e-5.
  const configs = [
    { name: 'plain', lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { name: 'momentum + weight decay', lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false },
    { name: 'momentum + dampening', lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0, nesterov: false },
    { name: 'nesterov', lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.02, nesterov: true },
  ];
  for (const c of configs) {
    test(`${c.name}: 6 steps match torch's formulas in f64`, async () => {
      const r = rng(23);
      const { ts, ref } = makeParams(r);
      const buffers = ts.map((t) => t.buffer);
      const opt = new optim.SGD(ts, c);
      let bufs: (Float64Array | null)[] = ref.map(() => null);
      for (let step = 0; step < 6; step++) {
        bufs = ts.map((t, i) => {
          const g = f32(randArray(t.size, r));
          t.grad = T(g, t.shape);
          return sgdRef(ref[i], g, bufs[i], c);
        });
        opt.step();
        opt.zeroGrad();
      }
      for (let i = 0; i < ts.length; i++) {
        expectClose(await ts[i].read(), ref[i], { rtol: 1e-5, atol: 2e-6 }, `${c.name} param ${i}`);
        expect(ts[i].buffer).toBe(buffers[i]);
      }
      if (c.momentum) expectClose(await opt.stateDict().tensors['0.momentum_buffer'].read(), bufs[0]!, { rtol: 1e-5, atol: 2e-6 }, 'momentum buffer');
    });
  }

  test('nesterov without momentum is refused', () => {
    expect(() => new optim.SGD([T([1], [1], true)], { lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum/);
  });
});

test('a small MLP trained with Adam reduces its loss by over 90 %', async () => {
  sl.manualSeed(3);
  const r = rng(99);
  const n = 64;
  const x = randArray(n * 2, r, -1.5, 1.5);
  const y = Float64Array.from({ length: n }, (_, i) => Math.sin(2 * x[2 * i]) * Math.cos(x[2 * i + 1]));
  const X = T(x, [n, 2]), Y = T(y, [n, 1]);
  const model = new nn.Sequential(new nn.Linear(2, 32), new nn.Tanh(), new nn.Linear(32, 32), new nn.Tanh(), new nn.Linear(32, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
  const lossOf = () => sl.mean(sl.square(sl.sub(model.call(X), Y)));
  const l0 = sl.tidy(() => sl.noGrad(lossOf));
  const first = await l0.item();
  l0.dispose();
  let last = first;
  for (let step = 0; step < 300; step++) {
    const loss = sl.tidy(() => {
      opt.zeroGrad();
      const l = lossOf();
      sl.backward(l);
      opt.step();
      return l;
    });
    if (step === 299) last = await loss.item();
    loss.dispose();
  }
  expect(Number.isFinite(last)).toBe(true);
  expect(last / first).toBeLessThan(0.1);
});
