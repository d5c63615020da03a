// Core ops against f64 references: broadcasting elementwise, unary
// functions, reductions, layout copies, matmul; their gradients against
// central finite differences; and the tape's own behaviour.
import { beforeAll, describe, expect, test } from 'vitest';
import { checkGrads, expectClose, f32, prod, randArray, rng, setup, sl, T } from './helpers.js';
import * as ref from './ref/core.js';

beforeAll(setup);

// Elementwise f32 results differ from f64 by rounding of one or two ops.
const EW = { rtol: 2e-6, atol: 1e-6 };

describe('binary ops with broadcasting', () => {
  const cases: [number[], number[]][] = [
    [[7, 13], [7, 13]],
    [[3, 1, 5], [4, 1]],
    [[1], [2, 3, 5, 7]],
    [[5, 1, 3, 1], [1, 6, 1, 9]],
    [[131], [131]],
    [[4, 33], [4, 33]], // same shapes, a multiple of 4 values: the vec4 entry (same4)
    [[2, 3, 1, 2, 1, 3, 1, 2], [3, 2, 1, 1, 2, 1]],
    // rank 2 with rows of ≥ 64: the 2-D grid entry (a row of each kind of stride)
    [[37, 1], [1, 67]],
    [[5, 130], [130]],
    [[70, 1], [70, 65]],
  ];
  const ops: [string, (a: sl.Tensor, b: sl.Tensor) => sl.Tensor, (x: number, y: number) => number][] = [
    ['add', sl.add, (x, y) => x + y],
    ['sub', sl.sub, (x, y) => x - y],
    ['mul', sl.mul, (x, y) => x * y],
    ['div', sl.div, (x, y) => x / y],
    ['maximum', sl.maximum, Math.max],
    ['minimum', sl.minimum, Math.min],
  ];
  for (const [as, bs] of cases) {
    for (const [name, gpu, f] of ops) {
      test(`${name} [${as}] ∘ [${bs}]`, async () => {
        const r = rng(prod(as) * 31 + prod(bs));
        const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r, 0.5, 2));
        const out = gpu(T(a, as), T(b, bs));
        expect(out.shape).toEqual(ref.broadcastShape(as, bs));
        expectClose(await out.read(), ref.binary(f, a, as, b, bs), EW, name);
      });
    }
  }

  test('rank 2 with rows longer than a 2-D grid lays along x falls back to the 1-D grid', async () => {
    const cols = 65535 * 64 + 70;
    const row = Float32Array.from({ length: cols }, (_, j) => j % 1000);
    const out = sl.add(sl.full([2, cols], 1.5), T(row, [1, cols]));
    const v = await out.read();
    expect(v.length).toBe(2 * cols);
    let bad = -1;
    for (let i = 0; i < v.length && bad < 0; i++) if (v[i] !== 1.5 + ((i % cols) % 1000)) bad = i;
    expect(bad, 'first wrong element').toBe(-1);
    out.dispose();
  });

  test('pow of negative bases with integer exponents, and 0^0', async () => {
    const a = [-2, -2, 3, 0, 4, -1.5];
    const b = [3, 2, 0.5, 0, -1, 2];
    const out = await sl.pow(T(a, [6]), T(b, [6])).read();
    expectClose(out, a.map((x, i) => x ** b[i]), EW, 'pow');
    expect(Number.isNaN((await sl.pow(T([-2], [1]), T([0.5], [1])).read())[0])).toBe(true);
  });

  test('scalar operands', async () => {
    const x = T([1, 2, 3], [3]);
    expectClose(await sl.add(x, 2).read(), [3, 4, 5], EW, 'x+2');
    expectClose(await sl.sub(10, x).read(), [9, 8, 7], EW, '10-x');
    expectClose(await sl.mul(x, -2).read(), [-2, -4, -6], EW, 'x*-2');
    expectClose(await sl.div(x, 4).read(), [0.25, 0.5, 0.75], EW, 'x/4');
    expectClose(await sl.div(6, x).read(), [6, 3, 2], EW, '6/x');
  });

  test('shape mismatch names both shapes', () => {
    expect(() => sl.add(T(new Float64Array(6), [2, 3]), T(new Float64Array(8), [2, 4]))).toThrow(/\[2, 3\] and \[2, 4\]/);
  });
});

describe('unary ops', () => {
  const n = 1031; // prime: not a multiple of the workgroup size
  const r = rng(3);
  const x = f32(randArray(n, r, -4, 4));
  const pos = f32(randArray(n, r, 0.01, 9));
  const cases: [string, (t: sl.Tensor) => sl.Tensor, (v: number) => number, Float64Array, number][] = [
    ['exp', sl.exp, Math.exp, x, 2e-6],
    ['log', sl.log, Math.log, pos, 2e-6],
    ['sqrt', sl.sqrt, Math.sqrt, pos, 2e-6],
    ['rsqrt', sl.rsqrt, (v) => 1 / Math.sqrt(v), pos, 1e-5],
    ['tanh', sl.tanh, Math.tanh, x, 2e-6],
    ['sigmoid', sl.sigmoid, (v) => 1 / (1 + Math.exp(-v)), x, 2e-6],
    ['relu', sl.relu, (v) => Math.max(v, 0), x, 0],
    ['leakyRelu', (t) => sl.leakyRelu(t, 0.2), (v) => (v < 0 ? 0.2 * v : v), x, 1e-7],
    ['abs', sl.abs, Math.abs, x, 0],
    ['square', sl.square, (v) => v * v, x, 1e-7],
    ['reciprocal', sl.reciprocal, (v) => 1 / v, pos, 1e-6],
    ['sin', sl.sin, Math.sin, x, 1e-5],
    ['cos', sl.cos, Math.cos, x, 1e-5],
    ['neg', sl.neg, (v) => -v, x, 0],
    ['pow 3', (t) => sl.pow(t, 3), (v) => v ** 3, x, 1e-5],
    ['pow 0.5', (t) => sl.pow(t, 0.5), Math.sqrt, pos, 1e-5],
  ];
  // 1031 values run `main`; 1028, a multiple of 4, run the vec4 entry `main4`
  for (const m of [n, n - 3]) {
    for (const [name, gpu, f, input, rtol] of cases) {
      test(`${name} on ${m} values`, async () => {
        const v = input.subarray(0, m);
        expectClose(await gpu(T(v, [m])).read(), Array.from(v, f), { rtol, atol: 1e-6 }, name);
      });
    }
  }

  test('lengths of a multiple of 4 take the vec4 entries (unary main4, binary same4)', async (ctx) => {
    if (!sl.getDevice().features.has('timestamp-query')) ctx.skip();
    const kernels = async (m: number) => (await sl.profile(() => sl.tidy(() => {
      const t = sl.rand([m]);
      sl.exp(t);
      sl.mul(t, t);
    }))).map((k) => k.kernel).filter((k) => !k.startsWith('fill')).sort();
    expect(await kernels(1028)).toEqual(['binary.wgsl:same4', 'unary.wgsl:main4']);
    expect(await kernels(1031)).toEqual(['binary.wgsl:same', 'unary.wgsl:main']);
  });

  test('tanh and sigmoid saturate without overflow', async () => {
    const big = [-100, -30, 30, 100];
    expectClose(await sl.tanh(T(big, [4])).read(), [-1, -1, 1, 1], EW, 'tanh');
    expectClose(await sl.sigmoid(T(big, [4])).read(), big.map((v) => 1 / (1 + Math.exp(-v))), EW, 'sigmoid');
  });
});

describe('reductions', () => {
  const cases: [number[], number[] | undefined][] = [
    [[5, 7, 3], [1]],
    [[5, 7, 3], [0, 2]],
    [[5, 7, 3], undefined],
    [[3, 5, 17, 19], [0, 2, 3]], // batch statistics shape: wide path
    [[4099], [0]], // one long row: wide path
    [[300, 7], [1]], // many short rows
    [[2, 3, 5, 7], [3]],
    // the chunked first stage: H and W merge into one inner axis of 67,600,
    // 8 chunks per channel that start and end mid-row
    [[3, 5, 130, 520], [0, 2, 3]],
    // wide path, axes that do not merge: an inner axis of 7 wraps every step
    [[300, 5, 3, 7], [0, 3]],
  ];
  for (const [shape, axes] of cases) {
    test(`sum/mean/max [${shape}] over ${axes ? `[${axes}]` : 'all'}`, async () => {
      const r = rng(prod(shape));
      const x = f32(randArray(prod(shape), r, -3, 3));
      const all = axes ?? shape.map((_, i) => i);
      const nRed = all.reduce((a, i) => a * shape[i], 1);
      // Sums accumulate in f32: error grows with the reduced length.
      const tol = { rtol: 1e-5, atol: 2e-7 * nRed };
      expectClose(await sl.sum(T(x, shape), axes, true).read(), ref.reduce(x, shape, all, 'sum'), tol, 'sum');
      expectClose(await sl.mean(T(x, shape), axes).read(), Array.from(ref.reduce(x, shape, all, 'sum'), (v) => v / nRed), { rtol: 1e-5, atol: 2e-7 }, 'mean');
      expectClose(await sl.max(T(x, shape), axes).read(), ref.reduce(x, shape, all, 'max'), { rtol: 0, atol: 0 }, 'max');
    });
  }

  test('keepDims and squeezed shapes', () => {
    const x = T(new Float64Array(30), [2, 3, 5]);
    expect(sl.sum(x, 1).shape).toEqual([2, 5]);
    expect(sl.sum(x, [0, 2], true).shape).toEqual([1, 3, 1]);
    expect(sl.sum(x).shape).toEqual([]);
  });
});

describe('layout ops', () => {
  test('permute / transpose', async () => {
    const shape = [3, 5, 7, 2];
    const x = f32(randArray(prod(shape), rng(9)));
    const dims = [2, 0, 3, 1];
    const y = sl.permute(T(x, shape), dims);
    expect(y.shape).toEqual([7, 3, 2, 5]);
    expectClose(await y.read(), ref.permute(x, shape, dims), { rtol: 0, atol: 0 }, 'permute');
    expectClose(await sl.transpose(T(x, shape), 1, 3).read(), ref.permute(x, shape, [0, 3, 2, 1]), { rtol: 0, atol: 0 }, 'transpose');
  });

  test('slice, pad, concat, broadcastTo', async () => {
    const shape = [4, 6, 5];
    const x = f32(randArray(prod(shape), rng(11)));
    expectClose(await sl.slice(T(x, shape), [1, 2, 0], [2, 3, 5]).read(), ref.slice(x, shape, [1, 2, 0], [2, 3, 5]), { atol: 0, rtol: 0 }, 'slice');
    const pads: [number, number][] = [[0, 1], [2, 0], [1, 3]];
    expectClose(await sl.pad(T(x, shape), pads, -7).read(), ref.pad(x, shape, pads, -7), { atol: 0, rtol: 0 }, 'pad');
    const y = f32(randArray(4 * 2 * 5, rng(12)));
    const c = sl.concat([T(x, shape), T(y, [4, 2, 5])], 1);
    expect(c.shape).toEqual([4, 8, 5]);
    const expected = new Float64Array(4 * 8 * 5);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 8; j++) for (let k = 0; k < 5; k++) {
      expected[(i * 8 + j) * 5 + k] = j < 6 ? x[(i * 6 + j) * 5 + k] : y[(i * 2 + j - 6) * 5 + k];
    }
    expectClose(await c.read(), expected, { atol: 0, rtol: 0 }, 'concat');
    const b = sl.broadcastTo(T([1, 2, 3], [3, 1]), [2, 3, 4]);
    expectClose(await b.read(), ref.binary((p) => p, [1, 2, 3], [3, 1], new Float64Array(24), [2, 3, 4]), { atol: 0, rtol: 0 }, 'broadcastTo');
  });

  test('reshape shares the buffer and checks sizes', async () => {
    const x = T([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = sl.reshape(x, [3, -1]);
    expect(y.shape).toEqual([3, 2]);
    expect(y.buffer).toBe(x.buffer);
    expect(() => sl.reshape(x, [4, 2])).toThrow(/cannot view \[2, 3\] as \[4, 2\]/);
  });
});

describe('matmul', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 13], [13, 5], false, false],
    [[33, 17], [17, 65], false, false],
    [[13, 7], [13, 5], true, false],
    [[7, 13], [5, 13], false, true],
    [[13, 7], [5, 13], true, true],
    [[3, 9, 11], [3, 11, 6], false, false],
    [[4, 9, 11], [11, 6], false, false], // shared right operand
    [[1, 1], [1, 1], false, false],
  ];
  for (const [as, bs, ta, tb] of cases) {
    test(`[${as}]${ta ? 'ᵀ' : ''} · [${bs}]${tb ? 'ᵀ' : ''}`, async () => {
      const r = rng(prod(as) + prod(bs));
      const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r));
      const K = ta ? as[as.length - 2] : as[as.length - 1];
      const out = sl.matmul(T(a, as), T(b, bs), { transA: ta, transB: tb });
      // f32 dot products of length K: error ~ K·ε·|terms|
      expectClose(await out.read(), ref.matmul(a, as, b, bs, ta, tb), { rtol: 1e-5, atol: 1e-6 * K }, 'matmul');
    });
  }

  test('a 257×129 · 129×263 product that divides no tile', async () => {
    const r = rng(5);
    const a = f32(randArray(257 * 129, r)), b = f32(randArray(129 * 263, r));
    expectClose(await sl.matmul(T(a, [257, 129]), T(b, [129, 263])).read(), ref.matmul(a, [257, 129], b, [129, 263]), { rtol: 1e-5, atol: 2e-4 }, 'matmul');
  });

  test('linear adds the bias', async () => {
    const r = rng(6);
    const x = f32(randArray(5 * 7, r)), w = f32(randArray(3 * 7, r)), b = f32(randArray(3, r));
    const expected = ref.matmul(x, [5, 7], w, [3, 7], false, true).map((v, i) => v + b[i % 3]);
    expectClose(await sl.linear(T(x, [5, 7]), T(w, [3, 7]), T(b, [3])).read(), expected, { rtol: 1e-5, atol: 1e-5 }, 'linear');
  });

  test('inner-size mismatch names both shapes', () => {
    expect(() => sl.matmul(T(new Float64Array(6), [2, 3]), T(new Float64Array(8), [4, 2]))).toThrow(/\[2, 3\].*\[4, 2\]/);
  });
});

describe('gradients vs finite differences', () => {
  const r = rng(21);
  const A = { data: randArray(12, r), shape: [3, 4] };
  const B = { data: randArray(4, r, 0.5, 2), shape: [4] };
  const P = { data: randArray(12, r, 0.5, 2), shape: [3, 4] };
  const refBin = (f: (x: number, y: number) => number) => (xs: Float64Array[]) => ref.binary(f, xs[0], [3, 4], xs[1], [4]);
  test('add/sub/mul/div with broadcasting', async () => {
    await checkGrads(([a, b]) => sl.add(a, b), refBin((x, y) => x + y), [A, B], {}, 'add');
    await checkGrads(([a, b]) => sl.sub(a, b), refBin((x, y) => x - y), [A, B], {}, 'sub');
    await checkGrads(([a, b]) => sl.mul(a, b), refBin((x, y) => x * y), [A, B], {}, 'mul');
    await checkGrads(([a, b]) => sl.div(a, b), refBin((x, y) => x / y), [A, B], {}, 'div');
    await checkGrads(([a, b]) => sl.pow(a, b), (xs) => ref.binary((x, y) => x ** y, xs[0], [3, 4], xs[1], [4]), [P, B], {}, 'pow');
    await checkGrads(([a, b]) => sl.maximum(a, b), refBin(Math.max), [A, B], {}, 'maximum');
  });
  test('unary functions', async () => {
    const un: [string, (t: sl.Tensor) => sl.Tensor, (v: number) => number, typeof A][] = [
      ['exp', sl.exp, Math.exp, A], ['log', sl.log, Math.log, P], ['sqrt', sl.sqrt, Math.sqrt, P],
      ['rsqrt', sl.rsqrt, (v) => v ** -0.5, P], ['tanh', sl.tanh, Math.tanh, A],
      ['sigmoid', sl.sigmoid, (v) => 1 / (1 + Math.exp(-v)), A], ['leakyRelu', (t) => sl.leakyRelu(t, 0.2), (v) => (v < 0 ? 0.2 * v : v), A],
      ['square', sl.square, (v) => v * v, A], ['reciprocal', sl.reciprocal, (v) => 1 / v, P], ['sin', sl.sin, Math.sin, A],
      ['abs', sl.abs, Math.abs, A], ['pow 2.5', (t) => sl.pow(t, 2.5), (v) => v ** 2.5, P],
    ];
    for (const [name, gpu, f, inp] of un) await checkGrads(([x]) => gpu(x), (xs) => Array.from(xs[0], f), [inp], {}, name);
  });
  test('reductions and layout', async () => {
    const X = { data: randArray(2 * 3 * 5, rng(4)), shape: [2, 3, 5] };
    await checkGrads(([x]) => sl.sum(x, [0, 2]), (xs) => ref.reduce(xs[0], [2, 3, 5], [0, 2], 'sum'), [X], {}, 'sum');
    await checkGrads(([x]) => sl.mean(x, 1), (xs) => ref.reduce(xs[0], [2, 3, 5], [1], 'sum').map((v) => v / 3), [X], {}, 'mean');
    await checkGrads(([x]) => sl.max(x, 2), (xs) => ref.reduce(xs[0], [2, 3, 5], [2], 'max'), [X], {}, 'max');
    await checkGrads(([x]) => sl.permute(x, [2, 0, 1]), (xs) => ref.permute(xs[0], [2, 3, 5], [2, 0, 1]), [X], {}, 'permute');
    await checkGrads(([x]) => sl.slice(x, [1, 0, 2], [1, 2, 3]), (xs) => ref.slice(xs[0], [2, 3, 5], [1, 0, 2], [1, 2, 3]), [X], {}, 'slice');
    await checkGrads(([x]) => sl.pad(x, [[1, 0], [0, 2], [1, 1]]), (xs) => ref.pad(xs[0], [2, 3, 5], [[1, 0], [0, 2], [1, 1]]), [X], {}, 'pad');
    await checkGrads(([x]) => sl.broadcastTo(sl.reshape(x, [2, 1, 15]), [2, 4, 15]),
      (xs) => ref.binary((p) => p, xs[0], [2, 1, 15], new Float64Array(120), [2, 4, 15]), [X], {}, 'broadcastTo');
  });
  test('matmul and linear', async () => {
    const r2 = rng(8);
    const a = { data: randArray(3 * 5 * 4, r2), shape: [3, 5, 4] };
    const b = { data: randArray(4 * 6, r2), shape: [4, 6] };
    await checkGrads(([x, y]) => sl.matmul(x, y), (xs) => ref.matmul(xs[0], [3, 5, 4], xs[1], [4, 6]), [a, b], {}, 'matmul');
    const at = { data: randArray(4 * 5, r2), shape: [4, 5] };
    const bt = { data: randArray(6 * 4, r2), shape: [6, 4] };
    await checkGrads(([x, y]) => sl.matmul(x, y, { transA: true, transB: true }), (xs) => ref.matmul(xs[0], [4, 5], xs[1], [6, 4], true, true), [at, bt], {}, 'matmulᵀᵀ');
    const x = { data: randArray(5 * 4, r2), shape: [5, 4] }, bias = { data: randArray(6, r2), shape: [6] };
    await checkGrads(([p, w, q]) => sl.linear(p, w, q),
      (xs) => ref.matmul(xs[0], [5, 4], xs[1], [6, 4], false, true).map((v, i) => v + xs[2][i % 6]), [x, bt, bias], {}, 'linear');
  });
});

describe('tape', () => {
  test('grad-of-grad: d/dx of (d/dx x³) = 6x', async () => {
    const x = T([0.5, -1.5, 2], [3], true);
    const y = sl.sum(sl.mul(sl.mul(x, x), x));
    const [g] = sl.grad(y, [x], { createGraph: true });
    expectClose(await g!.read(), [0.75, 6.75, 12], EW, 'first');
    const [gg] = sl.grad(sl.sum(g!), [x]);
    expectClose(await gg!.read(), [3, -9, 12], EW, 'second');
  });

  test('double backward through tanh matches the analytic second derivative', async () => {
    const xs = [0.3, -0.8, 1.7];
    const x = T(xs, [3], true);
    const [g] = sl.grad(sl.sum(sl.tanh(x)), [x], { createGraph: true });
    const [gg] = sl.grad(sl.sum(g!), [x]);
    expectClose(await gg!.read(), xs.map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)), { rtol: 1e-5, atol: 1e-6 }, 'tanh″');
  });

  test('backward accumulates into leaves; unused inputs are reported', async () => {
    const a = T([1, 2], [2], true);
    const b = T([3, 4], [2], true);
    sl.backward(sl.sum(sl.mul(a, b)));
    sl.backward(sl.sum(sl.mul(a, b)));
    expectClose(await a.grad!.read(), [6, 8], EW, 'a.grad');
    expectClose(await b.grad!.read(), [2, 4], EW, 'b.grad');
    const c = T([1], [1], true);
    expect(() => sl.grad(sl.sum(a), [c])).toThrow(/not used/);
    expect(sl.grad(sl.sum(a), [c], { allowUnused: true })[0]).toBeNull();
  });

  test('noGrad records nothing; a shared subexpression is visited once', async () => {
    const x = T([2], [1], true);
    expect(sl.noGrad(() => sl.mul(x, x)).requiresGrad).toBe(false);
    const y = sl.mul(x, 3);
    const z = sl.add(sl.mul(y, y), y); // dz/dx = (2y + 1)·3 = 39
    const [g] = sl.grad(sl.sum(z), [x]);
    expectClose(await g!.read(), [39], EW, 'dz/dx');
  });

  test('tidy frees intermediates and keeps results; grad without createGraph leaks nothing', async () => {
    const w = T([1, 2, 3], [3], true);
    const before = sl.memory().liveBuffers;
    const out = sl.tidy(() => {
      const h = sl.tanh(sl.mul(w, 2));
      const [g] = sl.grad(sl.sum(sl.square(h)), [w]);
      return g!;
    });
    expect(sl.memory().liveBuffers).toBe(before + 1);
    out.dispose();
    expect(sl.memory().liveBuffers).toBe(before);
    expect(() => out.shape.length && out.buffer).toThrow(/disposed/);
  });

  test('one submit per step: ops record, read submits', async () => {
    const e = sl.getEngine();
    await e.sync();
    const before = e.stats.submits;
    const x = T(randArray(100, rng(1)), [10, 10], true);
    const loss = sl.sum(sl.tanh(sl.matmul(x, x)));
    const [g] = sl.grad(loss, [x]);
    expect(e.stats.submits).toBe(before);
    await g!.read();
    expect(e.stats.submits).toBe(before + 1);
  });
});

describe('random', () => {
  test('seeded normal and uniform: reproducible with the right moments', async () => {
    const n = 100_003;
    const a = await sl.randn([n], { seed: 42, mean: 1, std: 2 }).read();
    const b = await sl.randn([n], { seed: 42, mean: 1, std: 2 }).read();
    expect(a).toEqual(b);
    const m = a.reduce((s, v) => s + v, 0) / n;
    const v = a.reduce((s, x) => s + (x - m) ** 2, 0) / n;
    // standard errors: mean 2/√n ≈ 0.0063, variance ≈ 4·√(2/n) ≈ 0.018: 5σ bounds
    expect(Math.abs(m - 1)).toBeLessThan(0.032);
    expect(Math.abs(v - 4)).toBeLessThan(0.09);
    const u = await sl.rand([n], { seed: 7, low: -1, high: 3 }).read();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(3);
    expect(Math.abs(u.reduce((s, x) => s + x, 0) / n - 1)).toBeLessThan(0.02);
    const c = await sl.randn([n], { seed: 43 }).read();
    expect(c[0]).not.toBe(a[0]);
  });
});

const KERNEL_FILE: Record<string, string> = {
  blocked: 'matmul.wgsl', tiled: 'matmul_tiled.wgsl', tiled128: 'matmul_tiled128.wgsl', subgroup: 'matmul_subgroup.wgsl', subgroup4: 'matmul_subgroup4', subgroup8: 'matmul_subgroup8',
};

describe('matmul variants', () => {
  // Odd sizes on every edge of the variants' tiles (16×128 rows×columns and
  // 8-step K chunks for the subgroup one), transposed, batched and broadcast.
  const cases: [number[], number[], boolean, boolean][] = [
    [[67, 33], [33, 129], false, false],
    [[33, 67], [129, 33], true, true],
    [[3, 17, 70], [70, 5], false, false],
    [[1, 1], [1, 1], false, false],
    [[2, 19, 9], [2, 9, 131], false, false],
    [[129, 7], [257, 7], false, true],
  ];
  for (const variant of ['tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'] as const) {
    test(`the ${variant} variant matches the reference on odd sizes, transposed and batched`, async (ctx) => {
      if (variant.startsWith('subgroup') && !sl.hasSubgroups(8)) ctx.skip();
      for (const [as, bs, ta, tb] of cases) {
        const r = rng(prod(as) + 3);
        const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r));
        const out = sl.matmulWith(variant, T(a, as), T(b, bs), { transA: ta, transB: tb });
        expectClose(await out.read(), ref.matmul(a, as, b, bs, ta, tb), { rtol: 1e-5, atol: 1e-4 }, `${variant} [${as}]·[${bs}]`);
      }
    });
  }

  test('the subgroup variant adds the bias and reads an inf in B only where A uses it', async (ctx) => {
    if (!sl.hasSubgroups(8)) ctx.skip();
    const prev = sl.matmulVariant();
    sl.setMatmulVariant('subgroup');
    try {
      // K = 5: the kernel's 8-step chunk runs past K; B's last row holds an inf
      // that the zero-padded steps must not turn into NaN.
      // 17 rows and 20 columns: more than matmul_skinny.wgsl takes
      const r = rng(11);
      const x = f32(randArray(17 * 5, r)), w = f32(randArray(20 * 5, r)), bias = f32(randArray(20, r));
      const y = await sl.linear(T(x, [17, 5]), T(w, [20, 5]), T(bias, [20])).read();
      const want = ref.matmul(x, [17, 5], w, [20, 5], false, true).map((v, i) => v + bias[i % 20]);
      expectClose(y, want, { rtol: 1e-5, atol: 1e-5 }, 'linear with bias');
      const b = new Float32Array(5 * 3).fill(1);
      b[4 * 3 + 1] = Infinity; // B[4, 1]
      const a = new Float32Array(2 * 5).fill(0.5);
      a[1 * 5 + 4] = 0; // row 1 multiplies the inf by 0 → NaN, as IEEE says
      const c = await sl.matmulWith('subgroup', T(a, [2, 5]), T(b, [5, 3])).read();
      expect(Array.from(c)).toEqual([2.5, Infinity, 2.5, 2, NaN, 2]);
    } finally {
      sl.setMatmulVariant(prev);
    }
  });

  // subgroup4 and subgroup8 read vec4s: row-major operands with K and N
  // multiples of 4 (anything else runs `subgroup`, covered above). Odd M, K
  // not a multiple of their 32-step chunk, N not of their 256- or 512-column
  // tiles (subgroup8's second vec4 of columns partly past N), batched and
  // broadcast.
  const vec4Cases: [number[], number[]][] = [
    [[67, 36], [36, 260]],
    [[5, 4], [4, 4]],
    [[2, 19, 44], [2, 44, 132]],
    [[3, 33, 100], [100, 516]],
  ];
  test('the subgroup4 and subgroup8 variants: vec4 operands on odd sizes, and the kernel that ran', async (ctx) => {
    if (!sl.hasSubgroups(8)) ctx.skip();
    for (const variant of ['subgroup4', 'subgroup8'] as const) {
      for (const [as, bs] of vec4Cases) {
        const r = rng(prod(as) + 5);
        const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r));
        const out = sl.matmulWith(variant, T(a, as), T(b, bs));
        expectClose(await out.read(), ref.matmul(a, as, b, bs, false, false), { rtol: 1e-5, atol: 1e-4 }, `${variant} [${as}]·[${bs}]`);
      }
    }
    if (!sl.getDevice().features.has('timestamp-query')) return;
    const ran = async (as: number[], bs: number[], opts = {}) =>
      (await sl.profile(() => sl.tidy(() => { sl.matmulWith('subgroup4', sl.rand(as), sl.rand(bs), opts); }))).map((t) => t.kernel).filter((k) => k.startsWith('matmul'));
    expect(await ran([67, 36], [36, 260])).toEqual(['matmul_subgroup4:main']);
    expect((await sl.profile(() => sl.tidy(() => { sl.matmulWith('subgroup8', sl.rand([67, 36]), sl.rand([36, 260])); })))
      .map((t) => t.kernel).filter((k) => k.startsWith('matmul'))).toEqual(['matmul_subgroup8:main']);
    // anything else runs the tuner's choice for strided products
    const fallback = `${KERNEL_FILE[sl.matmulStridedVariant()]}:main`;
    expect(['subgroup4', 'subgroup8']).not.toContain(sl.matmulStridedVariant());
    expect(await ran([67, 36], [260, 36], { transB: true })).toEqual([fallback]);
    expect(await ran([67, 35], [35, 260])).toEqual([fallback]);
    // forcing subgroup4 runs subgroup where it cannot
    const prev = sl.matmulVariant();
    sl.setMatmulVariant('subgroup4');
    try {
      expect(sl.matmulStridedVariant()).toBe('subgroup');
      const kernels = (await sl.profile(() => sl.tidy(() => { sl.linear(sl.rand([20, 8]), sl.rand([24, 8])); sl.matmul(sl.rand([20, 8]), sl.rand([8, 24])); })))
        .map((t) => t.kernel).filter((k) => k.startsWith('matmul')).sort();
      expect(kernels).toEqual(['matmul_subgroup.wgsl:main', 'matmul_subgroup4:main']);
    } finally {
      sl.setMatmulVariant(prev);
      await sl.tune(); // hand the family back to the tuner
    }
  });

  test('the subgroup4 and subgroup8 variants read an inf in B only where A uses it', async (ctx) => {
    if (!sl.hasSubgroups(8)) ctx.skip();
    // K = 12: lanes 3..7 of the 32-step chunk run past K; B's last row holds an inf.
    const b = new Float32Array(12 * 4).fill(1);
    b[11 * 4 + 1] = Infinity; // B[11, 1]
    const a = new Float32Array(2 * 12).fill(0.5);
    a[1 * 12 + 11] = 0; // row 1 multiplies the inf by 0 → NaN, as IEEE says
    for (const variant of ['subgroup4', 'subgroup8'] as const) {
      const c = await sl.matmulWith(variant, T(a, [2, 12]), T(b, [12, 4])).read();
      expect(Array.from(c), variant).toEqual([6, Infinity, 6, 6, 5.5, NaN, 5.5, 5.5]);
    }
  });

  test('tune() times every candidate and picks the fastest', async () => {
    const res = await sl.tune();
    const matmuls = sl.hasSubgroups(8) ? ['blocked', 'tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'] : ['blocked', 'tiled', 'tiled128'];
    const strided = matmuls.filter((v) => v !== 'subgroup4' && v !== 'subgroup8');
    for (const [probe, candidates] of [['matmul', matmuls], ['matmul-strided', strided], ['batchnorm', ['single', 'split']]] as const) {
      const times = candidates.map((v) => res.timings[`${probe}:${v}`]);
      for (const t of times) expect(t).toBeGreaterThan(0);
      expect(res.chosen[probe]).toBe(candidates[times.indexOf(Math.min(...times))]);
    }
    expect(sl.matmulVariant()).toBe(res.chosen.matmul);
    expect(sl.matmulStridedVariant()).toBe(res.chosen['matmul-strided']);
    console.log(`tune on ${res.adapter}:`, res.timings);
  });
});

test('leaves that receive the same gradient tensor get separate handles', async () => {
  const a = T([1, 2], [2], true), b = T([3, 4], [2], true);
  sl.backward(sl.sum(sl.add(a, b)));
  expect(a.grad).not.toBe(b.grad);
  a.grad!.dispose();
  expectClose(await b.grad!.read(), [1, 1], EW, 'b.grad survives');
});

test('a tensor returned from tidy keeps its values; backward through it explains the freed history', async () => {
  const x = T([0.5, 1], [2], true);
  const y = sl.tidy(() => sl.mul(sl.exp(x), x));
  expectClose(await y.read(), [0.5 * Math.exp(0.5), Math.E], { rtol: 1e-6 }, 'y');
  expect(() => sl.grad(sl.sum(y), [x])).toThrow(/history .* was freed .* inside that tidy/);
  // a result whose history is all leaves keeps it
  const z = sl.tidy(() => sl.mul(x, x));
  const [g] = sl.grad(sl.sum(z), [x]);
  expectClose(await g!.read(), [1, 2], EW, 'dz/dx');
});

test('long reductions take the two-stage path and stay accurate', async () => {
  const n = 1_000_003;
  const x = f32(randArray(n, rng(77), 0, 2));
  const t = T(x, [n]);
  const want = x.reduce((a, b) => a + b, 0);
  // pairwise partial sums: f32 error far below the naive n·ε
  expectClose(await sl.sum(t).read(), [want], { rtol: 1e-5, atol: 0 }, 'sum');
  expectClose(await sl.max(t).read(), [x.reduce((a, b) => Math.max(a, b), -Infinity)], { rtol: 0, atol: 0 }, 'max');
  const y = f32(randArray(3 * 200_001, rng(78)));
  expectClose(await sl.sum(T(y, [3, 200_001]), 1).read(), ref.reduce(y, [3, 200_001], [1], 'sum'), { rtol: 1e-5, atol: 1e-3 }, 'rows');
});

test('disposing a reduction result frees its buffer at once', () => {
  const x = T(new Float64Array(40).fill(1), [4, 10]);
  const before = sl.memory().liveBuffers;
  const s = sl.sum(x, 1);
  const m = sl.max(x, [0, 1]);
  s.dispose();
  m.dispose();
  expect(sl.memory().liveBuffers).toBe(before);
});

describe('review fixes', () => {
  test('max keeps NaN wherever it appears (all reduction paths)', async () => {
    expect(Number.isNaN((await sl.max(T([1, NaN, 2], [3])).read())[0])).toBe(true);
    const row = await sl.max(T([1, NaN, 2, 5, 3, NaN], [2, 3]), 1).read();
    expect(row.every(Number.isNaN)).toBe(true);
    const wide = new Float64Array(4096).fill(1);
    wide[0] = NaN;
    expect(Number.isNaN((await sl.max(T(wide, [4096])).read())[0])).toBe(true);
  });

  test('pipelines are cached per device: a second device works', async () => {
    const { create } = await import('webgpu');
    const adapter = await (create([]) as GPU).requestAdapter();
    const other = await adapter!.requestDevice();
    const first = sl.getDevice();
    try {
      await sl.init({ device: other, tune: false });
      expectClose(await sl.add(T([1], [1]), T([2], [1])).read(), [3], EW, 'other device');
    } finally {
      await sl.init({ device: first, tune: false });
      sl.getEngine().pool.poison = true;
    }
    expectClose(await sl.add(T([1], [1]), T([5], [1])).read(), [6], EW, 'first device again');
  });

  test('pow: d/db at base 0 is 0, not NaN; maximum splits ties like torch', async () => {
    const a = T([0, 2], [2]);
    const b = T([2, 2], [2], true);
    const [gb] = sl.grad(sl.sum(sl.pow(a, b)), [b]);
    expectClose(await gb!.read(), [0, 4 * Math.log(2)], { rtol: 1e-6 }, 'd/db');
    const x = T([1, 3], [2], true), y = T([1, 2], [2], true);
    const [gx, gy] = sl.grad(sl.sum(sl.maximum(x, y)), [x, y]);
    expectClose(await gx!.read(), [0.5, 1], EW, 'gx');
    expectClose(await gy!.read(), [0.5, 0], EW, 'gy');
  });

  test('flatten follows torch.flatten; bad dims and seeds name the shapes', () => {
    const x = T(new Float64Array(24), [2, 3, 4]);
    expect(sl.flatten(x).shape).toEqual([24]);
    expect(sl.flatten(x, 1).shape).toEqual([2, 12]);
    expect(sl.flatten(x, 0, 1).shape).toEqual([6, 4]);
    expect(() => sl.unsqueeze(x, 5)).toThrow(/unsqueeze: dim 5 out of range for \[2, 3, 4\]/);
    expect(() => sl.reshape(x, [-1, -1])).toThrow(/only one -1/);
    const w = T([1, 2, 3, 4, 5, 6], [2, 3], true);
    expect(() => sl.grad(sl.mul(w, 2), [w], { gradOutputs: [T(new Float64Array(6), [6])] })).toThrow(/\[6\] does not match output \[2, 3\]/);
  });

  test('ops that save tensors: tidy keeps what a surviving output needs, dispose frees it', async () => {
    const x = T(randArray(1 * 1 * 4 * 4, rng(3)), [1, 1, 4, 4], true);
    const y = sl.tidy(() => sl.maxPool2d(x, 2));
    const [g] = sl.grad(sl.sum(y), [x]);
    expect((await g!.read()).reduce((s, v) => s + v, 0)).toBe(4);
    const xb = T(randArray(2 * 3 * 5, rng(4)), [2, 3, 5], true);
    const before = sl.memory().liveBuffers;
    for (let i = 0; i < 10; i++) sl.maxPool2d(x, 2).dispose();
    for (let i = 0; i < 10; i++) sl.batchNorm2d(xb, null, null, null, null, { training: true }).dispose();
    expect(sl.memory().liveBuffers).toBe(before);
    const z = sl.tidy(() => sl.batchNorm2d(xb, null, null, null, null, { training: true }));
    const [gz] = sl.grad(sl.sum(sl.square(z)), [xb]);
    expect((await gz!.read()).every(Number.isFinite)).toBe(true);
  });

  test('different seeds give unrelated streams, not shifted copies', async () => {
    const a = await sl.rand([4096], { seed: 1 }).read();
    const b = await sl.rand([4096], { seed: 2 }).read();
    const inA = new Set(a);
    const shared = b.filter((v) => inA.has(v)).length;
    // 24-bit values: a chance coincidence rate of ~4096/2^24 per element
    expect(shared).toBeLessThan(20);
  });
});

test('matmul broadcasts batch axes as torch.matmul, and rejects what torch rejects', async () => {
  const r = rng(90);
  const a = f32(randArray(2 * 1 * 3 * 4, r)), b = f32(randArray(1 * 3 * 4 * 2, r));
  const out = sl.matmul(T(a, [2, 1, 3, 4]), T(b, [1, 3, 4, 2]));
  expect(out.shape).toEqual([2, 3, 3, 2]);
  const want = new Float64Array(2 * 3 * 3 * 2);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
    const m = ref.matmul(a.subarray(i * 12, i * 12 + 12), [3, 4], b.subarray(j * 8, j * 8 + 8), [4, 2]);
    want.set(m, (i * 3 + j) * 6);
  }
  expectClose(await out.read(), want, { rtol: 1e-5, atol: 1e-6 }, 'broadcast batch');
  expect(() => sl.matmul(T(new Float64Array(6), [2, 3, 1, 1]), T(new Float64Array(6), [3, 2, 1, 1]))).toThrow(/do not broadcast/);
  await checkGrads(([x, y]) => sl.matmul(x, y), (xs) => {
    const o = new Float64Array(2 * 3 * 3 * 2);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      o.set(ref.matmul(xs[0].subarray(i * 12, i * 12 + 12), [3, 4], xs[1].subarray(j * 8, j * 8 + 8), [4, 2]), (i * 3 + j) * 6);
    }
    return o;
  }, [{ data: a, shape: [2, 1, 3, 4] }, { data: b, shape: [1, 3, 4, 2] }], {}, 'broadcast matmul grads');
});

test('a product with more row tiles than one grid dimension runs in row blocks', async () => {
  // 2,200,001 rows of a per-pixel linear layer: 68,751 row tiles of 32 > 65,535
  const M = 2_200_001;
  const x = new Float32Array(M);
  for (let i = 0; i < M; i++) x[i] = ((i * 7919) % 1000) / 500 - 1;
  const w = [0.5, -2, 3], b = [1, 0, -1];
  for (const variant of ['blocked', 'tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'] as const) {
    if (variant.startsWith('subgroup') && !sl.hasSubgroups(8)) continue;
    const prev = sl.matmulVariant();
    sl.setMatmulVariant(variant);
    try {
      const y = await sl.linear(sl.tensor(x, [M, 1]), T(w, [3, 1]), T(b, [3])).read();
      const rows = [0, 1, 2_097_087, 2_097_088, 2_097_089, M - 1]; // the blocked variant's first block ends at 2,097,088
      for (const r of rows) {
        for (let j = 0; j < 3; j++) expect(y[r * 3 + j], `${variant} row ${r}`).toBeCloseTo(x[r] * w[j] + b[j], 5);
      }
      expect(y.every(Number.isFinite)).toBe(true);
    } finally {
      sl.setMatmulVariant(prev);
    }
  }
});

describe('profile()', () => {
  test('times each kernel entry point the function records, and recording goes back to one pass after', async (ctx) => {
    if (!sl.getDevice().features.has('timestamp-query')) ctx.skip();
    const a = sl.rand([64, 64], { seed: 1 }), b = sl.rand([64, 64], { seed: 2 });
    const times = await sl.profile(() => {
      sl.tidy(() => {
        for (let i = 0; i < 3; i++) sl.keep(sl.matmul(a, b)).dispose();
        sl.add(a, b);
      });
    });
    const mm = times.find((t) => t.kernel.startsWith('matmul'));
    expect(mm?.calls).toBe(3);
    const binary = times.find((t) => t.kernel.startsWith('binary.wgsl:'));
    expect(binary?.calls).toBe(1);
    for (const t of times) expect(t.ms).toBeGreaterThanOrEqual(0);
    expect([...times].sort((x, y) => y.ms - x.ms)).toEqual(times);
    // Outside a profile every dispatch shares one pass again: no submit while recording.
    const e = sl.getEngine();
    const before = e.stats.submits;
    const c = sl.matmul(a, b);
    expect(e.stats.submits).toBe(before);
    expect((await c.read()).length).toBe(64 * 64);
    await expect(sl.profile(() => sl.profile(() => 0))).rejects.toThrow(/already running/);
  });
});

describe('split-K', () => {
  // Few output tiles and a long inner axis: the product is cut into chunks of
  // K (a critic's 64×80,000 · 80,000×1 linear layer), summed after.
  test('a long inner axis through every variant, transposed, with bias and gradients', async () => {
    const variants = sl.hasSubgroups(8) ? ['blocked', 'tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'] as const : ['blocked', 'tiled', 'tiled128'] as const;
    const prev = sl.matmulVariant();
    // 6000 = 20 chunks of 300; 17 × 18 outputs: more rows and columns than
    // matmul_skinny.wgsl takes (its own split-K is tested below)
    const M = 17, N = 18, Kd = 6000;
    const r = rng(77);
    const x = f32(randArray(M * Kd, r)), w = f32(randArray(N * Kd, r)), b = f32(randArray(N, r));
    const g = f32(randArray(M * N, r));
    const want = ref.matmul(x, [M, Kd], w, [N, Kd], false, true).map((v, i) => v + b[i % N]);
    const tol = { rtol: 1e-4, atol: 1e-4 };
    try {
      for (const v of variants) {
        sl.setMatmulVariant(v);
        const xt = T(x, [M, Kd], true), wt = T(w, [N, Kd], true), bt = T(b, [N], true);
        const y = sl.linear(xt, wt, bt);
        expectClose(await y.read(), want, tol, `${v}: linear`);
        // a transposed operand on the other side: xᵀ stored as [Kd, M]
        const xT = sl.transpose(T(x, [M, Kd]), 0, 1); // a [Kd, M] copy
        expectClose(await sl.matmul(xT, T(w, [N, Kd]), { transA: true, transB: true }).read(),
          ref.matmul(x, [M, Kd], w, [N, Kd], false, true), tol, `${v}: transposed`);
        sl.backward(sl.sum(sl.mul(y, T(g, [M, N]))));
        expectClose(await xt.grad!.read(), ref.matmul(g, [M, N], w, [N, Kd], false, false), tol, `${v}: dx`);
        expectClose(await wt.grad!.read(), ref.matmul(g, [M, N], x, [M, Kd], true, false), tol, `${v}: dw`);
      }
    } finally {
      sl.setMatmulVariant(prev);
    }
  });
});

test('split-K through subgroup4 and subgroup8: row-major operands, chunks of K a multiple of 4', async (ctx) => {
  if (!sl.hasSubgroups(8)) ctx.skip();
  // K = 4104: unaligned, split-K would cut 12 chunks of 342, and the vec4
  // index of the second chunk's A (342 / 4) would round down; aligned it
  // cuts 9 chunks of 456
  const M = 5, Kd = 4104, N = 8;
  const r = rng(78);
  const a = f32(randArray(M * Kd, r)), b = f32(randArray(Kd * N, r));
  for (const variant of ['subgroup4', 'subgroup8'] as const) {
    const got = await sl.matmulWith(variant, T(a, [M, Kd]), T(b, [Kd, N])).read();
    expectClose(got, ref.matmul(a, [M, Kd], b, [Kd, N], false, false), { rtol: 1e-4, atol: 1e-4 }, `${variant} split-K`);
  }
  if (!sl.getDevice().features.has('timestamp-query')) return;
  const at = T(a, [M, Kd]), bt = T(b, [Kd, N]);
  const times = await sl.profile(() => sl.tidy(() => { sl.matmulWith('subgroup4', at, bt); }));
  expect(times.map((t) => t.kernel)).toContain('matmul_subgroup4:main');
  expect(times.find((t) => t.kernel === 'matmul_subgroup4:main')!.calls).toBe(1);
  expect(times.some((t) => t.kernel.startsWith('reduce.wgsl'))).toBe(true); // the partial products summed
});

test('subgroup4 and subgroup8 in row blocks: more row tiles than one grid dimension', async (ctx) => {
  if (!sl.hasSubgroups(8)) ctx.skip();
  // 2,097,158 rows of 4: 65,537 row tiles of 32; the first block ends at 2,097,088
  const M = 2_097_158;
  const x = new Float32Array(M * 4);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1000) / 500 - 1;
  const w = [0.5, -2, 3, 1, 0, 1, -1, 2, 1, 1, 1, 1, -3, 0.25, 2, -1];
  for (const variant of ['subgroup4', 'subgroup8'] as const) {
    const y = await sl.matmulWith(variant, sl.tensor(x, [M, 4]), T(w, [4, 4])).read();
    for (const r of [0, 1, 2_097_087, 2_097_088, 2_097_089, M - 1]) {
      for (let j = 0; j < 4; j++) {
        let want = 0;
        for (let k = 0; k < 4; k++) want += x[r * 4 + k] * w[k * 4 + j];
        expect(y[r * 4 + j], `${variant} row ${r}`).toBeCloseTo(want, 5);
      }
    }
    expect(y.every(Number.isFinite)).toBe(true);
  }
});

test('split-K frees its partial products and sums (no buffer outlives the result)', async () => {
  const x = sl.rand([5, 6000], { seed: 3 }), w = sl.rand([3, 6000], { seed: 4 }), b = sl.rand([3], { seed: 5 });
  const live = async () => {
    await sl.flush();
    return sl.memory().liveBuffers;
  };
  const x17 = sl.rand([17, 6000], { seed: 6 }), w18 = sl.rand([18, 6000], { seed: 7 });
  sl.linear(x, w, b).dispose(); // warm the pool
  sl.linear(x17, w18).dispose();
  const before = await live();
  for (let i = 0; i < 3; i++) {
    sl.linear(x, w, b).dispose(); // matmul_skinny.wgsl's chunks
    sl.matmul(x, w, { transB: true }).dispose();
    sl.linear(x17, w18).dispose(); // the row-tiled kernels' chunks
  }
  // ≤, not =: the FinalizationRegistry may free an earlier test's garbage meanwhile
  expect(await live()).toBeLessThanOrEqual(before);
});

describe('bandedMatmul (a mel projection)', () => {
  test('a · wᵀ over each row of w’s nonzero band, against f64 and the dense matmul', async () => {
    const rows = 37, k = 101, m = 13;
    const r = rng(4242);
    const a = f32(randArray(rows * k, r, 0, 2));
    const w = new Float64Array(m * k);
    for (let i = 0; i < m; i++) {
      // bands of odd widths at odd places; row 4 empty, row 7 the full width
      const lo = i === 7 ? 0 : (i * 7) % 90, hi = i === 4 ? lo : i === 7 ? k : lo + 1 + ((i * 5) % 11);
      for (let c = lo; c < hi; c++) w[i * k + c] = Math.fround(0.1 + r());
    }
    const bands = sl.bandsOf(w, m, k);
    expect(bands.slice(8, 10)).toEqual([0, 0]); // the empty row
    expect(bands.slice(14, 16)).toEqual([0, k]);
    const want = new Float64Array(rows * m), mag = new Float64Array(rows * m);
    for (let t = 0; t < rows; t++) for (let i = 0; i < m; i++) for (let c = 0; c < k; c++) {
      want[t * m + i] += a[t * k + c] * w[i * k + c];
      mag[t * m + i] += Math.abs(a[t * k + c] * w[i * k + c]);
    }
    const at = T(a, [rows, k]), wt = T(w, [m, k]);
    const got = await sl.bandedMatmul(at, wt, bands).read();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `element ${i}`).toBeLessThanOrEqual(2e-6 * mag[i] + 1e-7);
    expectClose(got, await sl.matmul(at, wt, { transB: true }).read(), { rtol: 1e-5, atol: 1e-6 }, 'vs dense');
    expect(() => sl.bandedMatmul(at, wt, bands.slice(2))).toThrow(/24 band bounds for the 13 rows/);
    const bad = bands.slice();
    bad[5] = k + 1;
    expect(() => sl.bandedMatmul(at, wt, bad)).toThrow(/band 2 is \[\d+, 102\), not within \[0, 101\]/);
  });
});

describe('polyphase (rational resampling FIR)', () => {
  // out[m] = Σⱼ x[n0 − j]·bank[phase, j], c = m·down + offset, phase = c mod up,
  // n0 = ⌊c / up⌋, x zero outside: restated in f64 with the bounds tested per
  // sample, against the kernel that computes its bounds once per output.
  const refPoly = (x: Float64Array, bank: Float64Array, up: number, down: number, offset: number, length: number) => {
    const taps = bank.length / up;
    const want = new Float64Array(length), mag = new Float64Array(length);
    for (let m = 0; m < length; m++) {
      const c = m * down + offset, ph = c % up, n0 = (c - ph) / up;
      for (let j = 0; j < taps; j++) {
        const n = n0 - j;
        if (n < 0 || n >= x.length) continue;
        want[m] += x[n] * bank[ph * taps + j];
        mag[m] += Math.abs(x[n] * bank[ph * taps + j]);
      }
    }
    return { want, mag };
  };
  test.each([
    // up, down, taps, offset, input length, output length (past the input's reach: zeros)
    [1, 2, 41, 20, 1001, 520],
    [1, 3, 7, 0, 97, 40],
    [3, 7, 5, 6, 211, 95],
    [147, 320, 44, 3200, 1999, 930],
    [2, 1, 9, 4, 33, 70],
    [5, 5, 3, 1, 17, 17],
  ])('up %i, down %i, %i taps a phase, offset %i, %i in → %i out, against f64', async (up, down, taps, offset, n, length) => {
    const r = rng(up * 1000 + down * 10 + taps);
    const x = f32(randArray(n, r));
    const bank = f32(randArray(up * taps, r));
    const { want, mag } = refPoly(x, bank, up, down, offset, length);
    const got = await sl.polyphase(T(x, [n]), T(bank, [up, taps]), { up, down, offset, length }).read();
    expect(got.length).toBe(length);
    for (let m = 0; m < length; m++) expect(Math.abs(got[m] - want[m]), `output ${m}`).toBeLessThanOrEqual(2e-7 * taps * mag[m] + 1e-30);
    // outputs whose taps all fall outside x (past its end here) are exact zeros, written, not left poisoned
    const outside = [...mag.keys()].filter((m) => mag[m] === 0);
    for (const m of outside) expect(got[m], `output ${m}`).toBe(0);
  });

  test('an empty input or bank gives zeros; bad shapes and arguments are refused; no gradient', async () => {
    const x = T([1, 2, 3], [3]), bank = T([1, 1, 1, 1], [2, 2]);
    expect(Array.from(await sl.polyphase(T([], [0]), bank, { up: 2, down: 1, offset: 0, length: 4 }).read())).toEqual([0, 0, 0, 0]);
    expect((await sl.polyphase(x, bank, { up: 2, down: 1, offset: 0, length: 0 }).read()).length).toBe(0);
    expect(Array.from(await sl.polyphase(x, T([], [2, 0]), { up: 2, down: 1, offset: 0, length: 3 }).read())).toEqual([0, 0, 0]);
    expect(() => sl.polyphase(x, bank, { up: 3, down: 1, offset: 0, length: 4 })).toThrow(/bank \[2, 2\].* has 2 phases for up = 3/);
    expect(() => sl.polyphase(x, bank, { up: 2, down: 0, offset: 0, length: 4 })).toThrow(/integers ≥ 1/);
    expect(() => sl.polyphase(x, bank, { up: 2, down: 1, offset: 0.5, length: 4 })).toThrow(/offset 0.5/);
    expect(() => sl.polyphase(T([1, 2], [1, 2]), bank, { up: 2, down: 1, offset: 0, length: 4 })).toThrow(/1-D signal/);
    expect(() => sl.polyphase(x, bank, { up: 1, down: 4096, offset: 0, length: 2 ** 21 })).toThrow(/\[1, 2\]|phases/);
    expect(() => sl.polyphase(x, T([1], [1, 1]), { up: 1, down: 4096, offset: 0, length: 2 ** 21 })).toThrow(/overflow the kernel's 32-bit indices/);
    // a phase's b·down + offset past 2^32 (up·down ≈ 8.5e9: 192 kHz → 44.101 kHz) is refused too
    expect(sl.polyphaseFits(44101, 192000, 1920000, 10)).toBe(false);
    expect(sl.polyphaseFits(147, 320, 3200, 13_500_000)).toBe(true); // 48 → 22.05 kHz, 10 min
    const wide = T(new Float64Array(70000), [70000, 1]);
    expect(() => sl.polyphase(x, wide, { up: 70000, down: 70001, offset: 0, length: 2 })).toThrow(/overflow the kernel's 32-bit indices/);
    expect(() => sl.polyphase(T([1, 2, 3], [3], true), bank, { up: 2, down: 1, offset: 0, length: 4 })).toThrow(/not differentiable/);
  });
});

describe('matmul_skinny.wgsl (few rows or few columns)', () => {
  // Every row count up to 16 on one side, odd column counts, K short (one
  // chunk) and long (chunks that do not divide it), every transpose; then the
  // same with the few on the column side, which runs transposed.
  const K_SHORT = 29, K_LONG = 3001;
  // tests above restore the variants they force with setMatmulVariant(),
  // which keeps the family forced (and skinny off); hand it back
  beforeAll(() => sl.tune());
  const ranSkinny = async (f: () => void): Promise<string[]> =>
    (await sl.profile(() => sl.tidy(f))).map((t) => t.kernel).filter((k) => k.startsWith('matmul'));
  test('few rows: 1…16 rows, odd columns, every transpose, one chunk of K or several', async () => {
    for (const m of [1, 2, 3, 5, 8, 13, 16]) {
      for (const Kd of [K_SHORT, K_LONG]) {
        const n = m === 1 ? 4099 : 37; // 4099 columns: 1,025 lanes, past the first workgroups' edge
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
          const as = ta ? [Kd, m] : [m, Kd], bs = tb ? [n, Kd] : [Kd, n];
          const r = rng(m * 1000 + Kd + (ta ? 1 : 0) + (tb ? 2 : 0));
          const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r));
          const out = sl.matmul(T(a, as), T(b, bs), { transA: ta, transB: tb });
          expect(out.shape).toEqual([m, n]);
          expectClose(await out.read(), ref.matmul(a, as, b, bs, ta, tb), { rtol: 1e-5, atol: 2e-6 * Kd }, `[${as}]${ta ? 'ᵀ' : ''}·[${bs}]${tb ? 'ᵀ' : ''}`);
        }
      }
    }
  });

  test('few columns: computed transposed, with bias, and gradients through linear', async () => {
    for (const [M, n, Kd] of [[67, 1, K_LONG], [300, 7, K_SHORT], [17, 16, K_LONG], [5000, 3, 40]]) {
      for (const [ta, tb] of [[false, false], [true, true], [false, true]]) {
        const as = ta ? [Kd, M] : [M, Kd], bs = tb ? [n, Kd] : [Kd, n];
        const r = rng(M + n + Kd);
        const a = f32(randArray(prod(as), r)), b = f32(randArray(prod(bs), r));
        const out = sl.matmul(T(a, as), T(b, bs), { transA: ta, transB: tb });
        expectClose(await out.read(), ref.matmul(a, as, b, bs, ta, tb), { rtol: 1e-5, atol: 2e-6 * Kd }, `[${as}]${ta ? 'ᵀ' : ''}·[${bs}]${tb ? 'ᵀ' : ''}`);
      }
    }
    // linear with bias on both sides: one sample, and a head of 10 over a long K
    const r = rng(90);
    for (const [M, N, Kd] of [[1, 1001, 110], [33, 10, 4100]]) {
      const x = f32(randArray(M * Kd, r)), w = f32(randArray(N * Kd, r)), b = f32(randArray(N, r));
      const y = await sl.linear(T(x, [M, Kd]), T(w, [N, Kd]), T(b, [N])).read();
      expectClose(y, ref.matmul(x, [M, Kd], w, [N, Kd], false, true).map((v, i) => v + b[i % N]), { rtol: 1e-5, atol: 2e-6 * Kd }, `linear ${M}×${Kd} → ${N}`);
    }
    const X = { data: randArray(2 * 9, rng(91)), shape: [2, 9] }, W = { data: randArray(3 * 9, rng(92)), shape: [3, 9] };
    const B = { data: randArray(3, rng(93)), shape: [3] };
    await checkGrads(([x, w, b]) => sl.linear(x, w, b), (xs) => ref.matmul(xs[0], [2, 9], xs[1], [3, 9], false, true).map((v, i) => v + xs[2][i % 3]), [X, W, B], {}, 'linear 2 × 9 → 3');
  });

  test('the kernel that ran: skinny for up to 4 rows or columns or two small sides, otherwise the tuner choice, a forced kernel as forced', async () => {
    if (!sl.getDevice().features.has('timestamp-query')) return;
    expect(await ranSkinny(() => { sl.linear(sl.rand([1, 110]), sl.rand([80, 110])); })).toEqual(['matmul_skinny_r1:main']);
    expect(await ranSkinny(() => { sl.linear(sl.rand([40, 64]), sl.rand([10, 64])); })).toEqual(['matmul_skinny_r10:main']);
    expect(await ranSkinny(() => { sl.matmul(sl.rand([16, 64]), sl.rand([64, 40])); })).toEqual(['matmul_skinny_r16:main']);
    // past 16 rows and columns, or 5…16 rows against more than 512 columns: the tuner's kernels
    for (const [as, bs] of [[[17, 64], [64, 17]], [[12, 64], [64, 600]], [[600, 64], [64, 5]]]) {
      const tiled = await ranSkinny(() => { sl.matmul(sl.rand(as), sl.rand(bs)); });
      expect(tiled).toHaveLength(1);
      expect(tiled[0]).not.toMatch(/skinny/);
    }
    expect(await ranSkinny(() => { sl.matmul(sl.rand([600, 64]), sl.rand([64, 4])); })).toEqual(['matmul_skinny_r4:main']);
    // a forced kernel runs as forced, and so does a variant forced for the family
    expect(await ranSkinny(() => { sl.matmulWith('blocked', sl.rand([1, 64]), sl.rand([64, 40])); })).toEqual(['matmul.wgsl:main']);
    sl.setMatmulVariant('blocked');
    try {
      expect(await ranSkinny(() => { sl.linear(sl.rand([1, 110]), sl.rand([80, 110])); })).toEqual(['matmul.wgsl:main']);
    } finally {
      await sl.tune(); // hand the family back to the tuner
    }
    expect(await ranSkinny(() => { sl.linear(sl.rand([1, 110]), sl.rand([80, 110])); })).toEqual(['matmul_skinny_r1:main']);
    expect(await ranSkinny(() => { sl.matmulWith('skinny', sl.rand([3, 64]), sl.rand([64, 40])); })).toEqual(['matmul_skinny_r3:main']);
  });
});
