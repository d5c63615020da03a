// nn: module bookkeeping against torch's conventions (names, order, counts,
// state dicts), torch's default initialisations, layer behaviour in train and
// eval mode. (The 500-step memory test is in nn_memory.test.ts, alone in its
// process, so no tensor leaked by another test can be collected mid-count.)
import { beforeAll, describe, expect, test } from 'vitest';
import { T, expectClose, f32, randArray, rng, setup, sl } from './helpers.js';
import * as nn from '../runtime/nn/index.js';
import { loadSafetensors, saveSafetensors } from '../runtime/io/safetensors.js';

import { SmallNet } from './models.js';

beforeAll(setup);


const stats = (a: Float32Array) => {
  let s = 0, s2 = 0, lo = Infinity, hi = -Infinity;
  for (const v of a) { s += v; s2 += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), lo, hi };
};

describe('module bookkeeping (torch conventions)', () => {
  test('layer parameter names and shapes', () => {
    const shapes = (m: nn.Module) => Object.fromEntries(m.namedParameters().map(([n, t]) => [n, t.shape]));
    expect(shapes(new nn.Conv2d(3, 5, 3))).toEqual({ weight: [5, 3, 3, 3], bias: [5] });
    expect(shapes(new nn.Conv2d(3, 5, [2, 4], { bias: false }))).toEqual({ weight: [5, 3, 2, 4] });
    expect(shapes(new nn.ConvTranspose2d(4, 2, 3))).toEqual({ weight: [4, 2, 3, 3], bias: [2] });
    expect(shapes(new nn.Linear(10, 5))).toEqual({ weight: [5, 10], bias: [5] });
    expect(shapes(new nn.Embedding(7, 3))).toEqual({ weight: [7, 3] });
    const bn = new nn.BatchNorm2d(8);
    expect(shapes(bn)).toEqual({ weight: [8], bias: [8] });
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var']);
    expect(new nn.LeakyReLU().parameters()).toEqual([]);
  });

  test('nested names, order and parameter counts match torch', () => {
    const net = new SmallNet();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'features.0.weight', 'features.0.bias', 'features.1.weight', 'features.1.bias', 'head.weight', 'head.bias',
    ]);
    // torch's state_dict order: each module's parameters, then its buffers, then its children.
    expect(Object.keys(net.stateDict())).toEqual([
      'features.0.weight', 'features.0.bias', 'features.1.weight', 'features.1.bias',
      'features.1.running_mean', 'features.1.running_var', 'head.weight', 'head.bias',
    ]);
    // torch: Conv2d(1,4,3) 40 + BatchNorm2d(4) 8 + Linear(100,3) 303
    expect(net.parameterCount()).toBe(351);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'features', 'features.0', 'features.1', 'features.2', 'features.3', 'flatten', 'head']);
    expect(String(net)).toContain('(features): Sequential');
    expect(new nn.ConvTranspose2d(8, 4, 4).parameterCount()).toBe(8 * 4 * 16 + 4);
  });

  test('a shared layer is one set of parameters but two state-dict keys (as torch)', () => {
    const shared = new nn.Linear(3, 3);
    const seq = new nn.Sequential(shared, new nn.Tanh(), shared);
    expect(seq.parameters()).toEqual([shared.weight, shared.bias]);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias']);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(seq.at(-1)).toBe(shared);
    expect(seq.length).toBe(3);
  });

  test('registration errors', () => {
    class Bad extends nn.Module {
      forward(x: sl.Tensor) { return x; }
    }
    const m = new Bad();
    m.register('a', new nn.ReLU());
    expect(() => m.registerParameter('a', T([1], [1]))).toThrow(/"a" is already registered/);
    expect(() => m.registerParameter('x.y', T([1], [1]))).toThrow(/must be non-empty and contain no "\."/);
    expect(() => m.registerParameter('p', sl.mul(T([1], [1], true), 2))).toThrow(/must be a leaf/);
  });

  test('train()/eval() recurse; requiresGrad_ freezes; zeroGrad disposes', async () => {
    const net = new SmallNet();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.eval();
    expect(net.modules().some((m) => m.training)).toBe(false);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    const x = sl.randn([2, 1, 12, 12]);
    sl.backward(sl.sum(net.call(x)));
    const g = net.head.weight.grad!;
    expect(g.shape).toEqual([3, 100]);
    net.zeroGrad();
    expect(g.disposed).toBe(true);
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    net.requiresGrad_(false);
    expect(sl.sum(net.call(x)).requiresGrad).toBe(false);
    net.dispose();
    x.dispose();
  });
});

describe('initialisation (torch defaults, seeded)', () => {
  test('Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias', async () => {
    const lin = new nn.Linear(50, 300);
    const b = 1 / Math.sqrt(50);
    const w = stats(await lin.weight.read());
    expect(w.lo).toBeGreaterThanOrEqual(-b);
    expect(w.hi).toBeLessThanOrEqual(b);
    expect(w.hi).toBeGreaterThan(0.99 * b); // 15000 samples reach the bound
    expect(Math.abs(w.std - b / Math.sqrt(3)) / (b / Math.sqrt(3))).toBeLessThan(0.03);
    expect(Math.abs(w.mean)).toBeLessThan(0.02 * b);
    const bias = stats(await lin.bias!.read());
    expect(bias.lo).toBeGreaterThanOrEqual(-b);
    expect(bias.hi).toBeLessThanOrEqual(b);
    expect(bias.hi - bias.lo).toBeGreaterThan(1.8 * b);
  });

  test('Conv2d fan_in = Cin·kh·kw; ConvTranspose2d fan_in = Cout·kh·kw', async () => {
    for (const [m, fanIn] of [[new nn.Conv2d(6, 40, 5), 150], [new nn.ConvTranspose2d(6, 40, 5), 1000]] as const) {
      const b = 1 / Math.sqrt(fanIn);
      for (const p of [m.weight, m.bias!]) {
        const s = stats(await p.read());
        expect(s.lo, `${m.constructor.name} ${p.name}`).toBeGreaterThanOrEqual(-b);
        expect(s.hi).toBeLessThanOrEqual(b);
        // 40 biases: P(range < 1.5b) ≈ 40·0.75³⁹ ≈ 5e-4; weights have thousands of samples
        expect(s.hi - s.lo).toBeGreaterThan(1.5 * b);
      }
    }
  });

  test('Embedding N(0, 1); BatchNorm2d ones/zeros and running stats 0/1', async () => {
    const e = stats(await new nn.Embedding(200, 50).weight.read());
    expect(Math.abs(e.mean)).toBeLessThan(0.03);
    expect(Math.abs(e.std - 1)).toBeLessThan(0.03);
    const bn = new nn.BatchNorm2d(5);
    expect(Array.from(await bn.weight!.read())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(await bn.bias!.read())).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(await bn.runningMean!.read())).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(await bn.runningVar!.read())).toEqual([1, 1, 1, 1, 1]);
    expect([bn.momentum, bn.eps]).toEqual([0.1, 1e-5]);
  });

  test('manualSeed makes model construction reproducible', async () => {
    const values = async (seed: number) => {
      sl.manualSeed(seed);
      const net = new SmallNet();
      const out = await Promise.all(net.parameters().map((p) => p.read()));
      net.dispose();
      return out.flatMap((a) => Array.from(a));
    };
    const a = await values(7), b = await values(7), c = await values(8);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});

describe('state dicts', () => {
  test('round trip through safetensors bytes gives identical outputs', async () => {
    sl.manualSeed(1);
    const a = new SmallNet();
    // Move the BatchNorm running statistics off their initial values.
    sl.noGrad(() => sl.tidy(() => { for (let i = 0; i < 3; i++) a.call(sl.randn([4, 1, 12, 12], { mean: 0.5 })); }));
    a.eval();
    sl.manualSeed(2);
    const b = new SmallNet().eval();
    const x = sl.randn([3, 1, 12, 12]);
    const ya = await a.call(x).read();
    expect(Array.from(await b.call(x).read())).not.toEqual(Array.from(ya));
    const bytes = await saveSafetensors(a.stateDict(), { format: 'pt' });
    const { tensors, metadata } = loadSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    const bParams = b.parameters();
    const res = b.loadStateDict(tensors);
    for (const t of Object.values(tensors)) t.dispose(); // the model copied them
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.parameters()).toEqual(bParams); // same tensors, new values
    expect(Array.from(await b.call(x).read())).toEqual(Array.from(ya));
    expect(Array.from(await b.features.at(1).stateDict().running_mean.read()))
      .toEqual(Array.from(await a.features.at(1).stateDict().running_mean.read()));
  });

  test('loadStateDict reports missing, unexpected and mis-shaped keys, and copies nothing then', async () => {
    const net = new SmallNet();
    const before = Array.from(await net.head.bias!.read());
    const good = () => Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, sl.mul(t, 0)]));
    const missing = good();
    delete missing['head.bias'];
    expect(() => net.loadStateDict(missing)).toThrow(/missing keys: head\.bias \(pass \{ strict: false \}/);
    const extra = { ...good(), 'head.scale': T([1], [1]) };
    expect(() => net.loadStateDict(extra)).toThrow(/unexpected keys: head\.scale/);
    const wrong = { ...good(), 'features.0.weight': T(new Float32Array(4 * 9 * 2), [4, 2, 3, 3]) };
    expect(() => net.loadStateDict(wrong)).toThrow('shape mismatch for features.0.weight: checkpoint has [4, 2, 3, 3], model has [4, 1, 3, 3]');
    expect(() => net.loadStateDict(wrong, { strict: false })).toThrow(/shape mismatch/);
    expect(Array.from(await net.head.bias!.read()), 'nothing copied on error').toEqual(before);
    // Non-strict: loads what matches and says what did not.
    const res = net.loadStateDict({ ...missing, extra: T([1], [1]) }, { strict: false });
    expect(res).toEqual({ missingKeys: ['head.bias'], unexpectedKeys: ['extra'] });
    expect(Array.from(await net.head.weight.read()).every((v) => v === 0)).toBe(true);
    expect(Array.from(await net.head.bias!.read())).toEqual(before);
    // torch checkpoints carry num_batches_tracked: accepted and ignored.
    expect(net.loadStateDict({ ...good(), 'features.1.num_batches_tracked': T([5], []) }).unexpectedKeys).toEqual([]);
  });
});

describe('layers', () => {
  test('Linear forward matches x·Wᵀ + b', async () => {
    const lin = new nn.Linear(7, 5);
    const r = rng(4);
    const x = f32(randArray(3 * 7, r));
    const w = await lin.weight.read(), b = await lin.bias!.read();
    const ref = new Float64Array(15);
    for (let i = 0; i < 3; i++) for (let o = 0; o < 5; o++) {
      let s = b[o];
      for (let k = 0; k < 7; k++) s += x[i * 7 + k] * w[o * 7 + k];
      ref[i * 5 + o] = s;
    }
    // f32 dot products of length 7: rtol 1e-5
    expectClose(await lin.call(T(x, [3, 7])).read(), ref, { rtol: 1e-5, atol: 1e-6 }, 'linear');
  });

  test('BatchNorm2d: batch statistics in training, running statistics in eval', async () => {
    const bn = new nn.BatchNorm2d(3);
    const r = rng(8);
    const n = 2, c = 3, hw = 5 * 5;
    const xs = f32(randArray(n * c * hw, r, -1, 3));
    const x = T(xs, [n, c, 5, 5]);
    const y = await bn.call(x).read();
    const rm = new Float64Array(c), rv = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let i = 0; i < n; i++) for (let k = 0; k < hw; k++) vals.push(xs[(i * c + ch) * hw + k]);
      const mu = vals.reduce((a, v) => a + v, 0) / vals.length;
      const varB = vals.reduce((a, v) => a + (v - mu) ** 2, 0) / vals.length;
      const got = stats(Float32Array.from({ length: n * hw }, (_, j) => y[(Math.floor(j / hw) * c + ch) * hw + (j % hw)]));
      expect(Math.abs(got.mean)).toBeLessThan(1e-5);
      expect(Math.abs(got.std - Math.sqrt(varB / (varB + 1e-5)))).toBeLessThan(1e-4);
      rm[ch] = 0.1 * mu;
      rv[ch] = 0.9 + 0.1 * varB * (vals.length / (vals.length - 1)); // torch: unbiased variance
    }
    // running statistics: f32 sums of 50 values, rtol 1e-5
    expectClose(await bn.runningMean!.read(), rm, { rtol: 1e-5, atol: 1e-6 }, 'running_mean');
    expectClose(await bn.runningVar!.read(), rv, { rtol: 1e-5, atol: 1e-6 }, 'running_var');
    bn.eval();
    const ref = Float64Array.from(xs, (v, i) => (v - rm[Math.floor(i / hw) % c]) / Math.sqrt(rv[Math.floor(i / hw) % c] + 1e-5));
    expectClose(await bn.call(x).read(), ref, { rtol: 1e-5, atol: 1e-5 }, 'eval');
    expectClose(await bn.runningMean!.read(), rm, { rtol: 1e-5, atol: 1e-6 }, 'eval leaves running_mean alone');
  });

  test('Dropout drops in training and is the identity in eval', async () => {
    const d = new nn.Dropout(0.5);
    const x = sl.full([4000], 1);
    const y = await d.call(x).read();
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(1700);
    expect(zeros).toBeLessThan(2300);
    expect(y.every((v) => v === 0 || v === 2)).toBe(true);
    const seq = new nn.Sequential(new nn.Linear(1, 1), d).eval();
    expect(d.training).toBe(false);
    expect((await d.call(x).read()).every((v) => v === 1)).toBe(true);
    expect(seq.length).toBe(2);
  });

  test('Embedding rows, and the weight gradient scatter-adds', async () => {
    const emb = new nn.Embedding(6, 4);
    const w = await emb.weight.read();
    const idx = [2, 0, 2, 5];
    const outHost = emb.call(idx);
    const outDev = emb.call(T(idx, [2, 2]));
    expect(outHost.shape).toEqual([4, 4]);
    expect(outDev.shape).toEqual([2, 2, 4]);
    const rows = idx.flatMap((i) => Array.from(w.subarray(i * 4, i * 4 + 4)));
    expect(Array.from(await outHost.read())).toEqual(rows);
    expect(Array.from(await outDev.read())).toEqual(rows);
    const up = f32(randArray(16, rng(3)));
    const [g] = sl.grad(sl.sum(sl.mul(outDev, T(up, [2, 2, 4]))), [emb.weight]);
    const ref = new Float64Array(24);
    idx.forEach((i, r) => { for (let k = 0; k < 4; k++) ref[i * 4 + k] += up[r * 4 + k]; });
    expectClose(await g!.read(), ref, { rtol: 1e-6, atol: 1e-7 }, 'embedding grad');
    expect(() => emb.call([6])).toThrow(/index 6 at position 0 is outside \[0, 6\)/);
  });

  test('oneHot of a tensor; out-of-range indices give zero rows', async () => {
    const h = nn.oneHot(T([1, 0, 3, 7], [4]), 4);
    expect(h.shape).toEqual([4, 4]);
    expect(Array.from(await h.read())).toEqual([0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  test('Flatten, activations and MaxPool2d shapes', async () => {
    const x = sl.randn([2, 3, 4, 5]);
    expect(new nn.Flatten().call(x).shape).toEqual([2, 60]);
    expect(new nn.Flatten(0).call(x).shape).toEqual([120]);
    expect(new nn.Flatten(1, 2).call(x).shape).toEqual([2, 12, 5]);
    expect(new nn.MaxPool2d(2).call(x).shape).toEqual([2, 3, 2, 2]);
    expect(new nn.MaxPool2d(3, { stride: 1, padding: 1 }).call(x).shape).toEqual([2, 3, 4, 5]);
    const v = T([-2, 0.5], [2]);
    expectClose(await new nn.LeakyReLU(0.2).call(v).read(), [-0.4, 0.5], { rtol: 1e-6 }, 'leaky');
    expectClose(await new nn.ReLU().call(v).read(), [0, 0.5], { rtol: 1e-6 }, 'relu');
    expectClose(await new nn.Tanh().call(v).read(), [Math.tanh(-2), Math.tanh(0.5)], { rtol: 1e-6 }, 'tanh');
    expectClose(await new nn.Sigmoid().call(v).read(), [1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(-0.5))], { rtol: 1e-6 }, 'sigmoid');
    expect(new nn.ConvTranspose2d(3, 2, 4, { stride: 2, padding: 1 }).call(x).shape).toEqual([2, 2, 8, 10]);
  });
});
