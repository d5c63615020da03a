// Ops on tensors past the storage binding limit run on ranges of rows
// (runtime/ops/split.ts). The limit is lowered here so small tensors take
// those paths, with row sizes that are not multiples of the offset alignment.
// Each result is compared with the same op run whole (elementwise and
// pooling must match bit for bit: the same arithmetic per element) and,
// for the reductions, with an f64 reference.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { expectClose, f32, prod, randArray, rng, setup, sl, T } from './helpers.js';
import { bindingCap } from '../runtime/engine.js';
import { rowRanges } from '../runtime/ops/split.js';

beforeAll(setup);
afterEach(() => {
  bindingCap.bytes = 0;
});

/** Run fn whole and then with the binding limit lowered to `cap` bytes; returns both reads and the dispatch counts. */
async function wholeAndSplit(cap: number, fn: () => sl.Tensor | sl.Tensor[]) {
  const e = sl.getEngine();
  const go = async () => {
    const before = e.stats.dispatches;
    const outs = sl.tidy(() => {
      const r = fn();
      return Array.isArray(r) ? r : [r];
    });
    const dispatches = e.stats.dispatches - before;
    const reads = await Promise.all(outs.map((t) => t.read()));
    outs.forEach((t) => t.dispose());
    return { reads, dispatches };
  };
  const whole = await go();
  bindingCap.bytes = cap;
  try {
    const split = await go();
    return { whole, split };
  } finally {
    bindingCap.bytes = 0;
  }
}

const SHAPE = [150, 3, 7, 11]; // 924-byte rows: a 16- or 256-byte alignment needs 4 or 64 of them

describe('row ranges', () => {
  test('one range when it fits; aligned starts, no gaps, nothing past the end otherwise', () => {
    expect(rowRanges(10, [7], 'op', () => 'x')).toEqual([{ start: 0, count: 10 }]);
    const align = sl.getDevice().limits.minStorageBufferOffsetAlignment;
    bindingCap.bytes = 64 * 924 + 100;
    const ranges = rowRanges(150, [231, 7, 0], 'op', () => 'x');
    expect(ranges.length).toBeGreaterThan(1);
    let next = 0;
    for (const r of ranges) {
      expect(r.start).toBe(next);
      expect((r.start * 231 * 4) % align).toBe(0);
      expect((r.start * 7 * 4) % align).toBe(0);
      expect(r.count * 231 * 4).toBeLessThanOrEqual(bindingCap.bytes);
      next += r.count;
    }
    expect(next).toBe(150);
    bindingCap.bytes = 100;
    expect(() => rowRanges(150, [231], 'someOp', () => 'input [150, 231]')).toThrow(/someOp: input \[150, 231\] exceeds the 100-byte storage binding limit/);
  });

  test('an op without a split path still fails with the binding limit named', () => {
    bindingCap.bytes = 1024;
    const a = sl.zeros([40, 40]);
    expect(() => sl.matmul(a, a)).toThrow(/holds 6400 bytes, over this adapter's storage binding limit of 1024 bytes/);
  });
});

describe('elementwise past the binding limit', () => {
  const r = rng(901);
  const x = f32(randArray(3001, r, -3, 3));
  const y = f32(randArray(3001, r, 0.5, 2));

  test('unary, binary and full on 3,001 elements in 256-float ranges', async () => {
    const { whole, split } = await wholeAndSplit(1024, () => [
      sl.exp(T(x, [3001])), sl.leakyRelu(T(x, [3001]), 0.2), sl.div(T(x, [3001]), T(y, [3001])), sl.full([3001], 2.5),
    ]);
    expect(split.dispatches).toBeGreaterThanOrEqual(4 * 12);
    expect(whole.dispatches).toBe(4);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    expectClose(split.reads[0], Array.from(x, Math.exp), { rtol: 2e-6 }, 'exp');
    expectClose(split.reads[2], x.map((v, i) => v / y[i]), { rtol: 2e-7 }, 'div');
    expect(Array.from(split.reads[3]).every((v) => v === 2.5)).toBe(true);
  });

  test('rand and randn in 256-float ranges: the same numbers as one dispatch', async () => {
    const { whole, split } = await wholeAndSplit(1024, () => [sl.rand([3001], { seed: 5, low: -1, high: 2 }), sl.randn([3001], { seed: 6 })]);
    expect(split.dispatches).toBe(2 * 12);
    expect(whole.dispatches).toBe(2);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    expect(split.reads[0].every((v) => v >= -1 && v < 2)).toBe(true);
    expect(new Set(split.reads[1]).size).toBe(3001); // no range repeats another's numbers
  });

  test('broadcasting: an operand spanning the first axis is split with the output, one broadcast along it is bound whole', async () => {
    const r2 = rng(902);
    const a = f32(randArray(prod(SHAPE), r2));
    const b = f32(randArray(3 * 11, r2)); // [1, 3, 1, 11]
    const c = f32(randArray(150 * 7, r2)); // [150, 1, 7, 1]
    const { whole, split } = await wholeAndSplit(8192, () => [
      sl.add(T(a, SHAPE), T(b, [1, 3, 1, 11])), sl.mul(T(c, [150, 1, 7, 1]), T(a, SHAPE)), sl.sub(T(b, [3, 1, 11]), T(c, [150, 1, 7, 1])),
    ]);
    expect(split.dispatches).toBeGreaterThan(3 * 10);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    const expectAdd = new Float64Array(a.length);
    for (let n = 0; n < 150; n++) for (let ch = 0; ch < 3; ch++) for (let h = 0; h < 7; h++) for (let w = 0; w < 11; w++) {
      const i = ((n * 3 + ch) * 7 + h) * 11 + w;
      expectAdd[i] = a[i] + b[ch * 11 + w];
    }
    expectClose(split.reads[0], expectAdd, { rtol: 1e-6 }, 'add');
  });
});

describe('layout copies past the binding limit', () => {
  test('broadcast, pad (also along the first axis) and concat write their output in ranges of rows', async () => {
    const r = rng(906);
    const small = f32(randArray(3 * 7, r)); // [3, 7, 1]
    const mid = f32(randArray(40 * 3 * 7, r)); // [40, 3, 7]: 3,360 bytes, bound whole
    const { whole, split } = await wholeAndSplit(4096, () => [
      sl.broadcastTo(T(small, [3, 7, 1]), [150, 3, 7, 11]),
      sl.pad(T(mid, [40, 3, 7]), [[5, 9], [0, 1], [2, 0]], -1),
      sl.concat([T(mid, [40, 3, 7]), T(mid, [40, 3, 7])], 0),
    ]);
    expect(split.dispatches).toBeGreaterThan(whole.dispatches + 10);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    // the padded rows at both ends of axis 0 hold the pad value, the rest the input
    const padded = split.reads[1];
    const prow = 4 * 9;
    expect(Array.from(padded.slice(0, 5 * prow)).every((v) => v === -1)).toBe(true);
    expect(Array.from(padded.slice((5 + 40) * prow)).every((v) => v === -1)).toBe(true);
    expect(padded[5 * prow + 2]).toBe(mid[0]);
    expect(Array.from(split.reads[2])).toEqual([...Array.from(mid), ...Array.from(mid)]);
  });

  test('an input past the limit is not split: a clear error', () => {
    bindingCap.bytes = 4096;
    expect(() => sl.permute(sl.zeros([40, 3, 11]), [2, 0, 1])).toThrow(/layout\.wgsl:main: "x" holds 5280 bytes, over this adapter's storage binding limit of 4096 bytes/);
  });
});

describe('pooling past the binding limit', () => {
  test('max pooling forward, backward and gather in ranges of planes match the whole run', async () => {
    const shape = [5, 7, 9, 11]; // 396-byte input planes, 120-byte output planes
    const r = rng(903);
    const x = f32(randArray(prod(shape), r));
    const opts = { stride: 2, padding: 1 };
    const outShape = [5, 7, 5, 6];
    const g = f32(randArray(prod(outShape), r));
    const { whole, split } = await wholeAndSplit(2048, () => {
      const xt = T(x, shape, true);
      const { out, indices } = sl.maxPool2dWithIndices(xt, 3, opts);
      const [dx] = sl.grad(out, [xt], { gradOutputs: [T(g, outShape)] }) as sl.Tensor[];
      const gathered = sl.maxPool2dGather(T(x, shape), indices);
      const searched = sl.maxPool2dBackward(T(g, outShape), indices, shape); // no geometry: searches every window
      return [out, indices, dx, gathered, searched];
    });
    expect(split.dispatches).toBeGreaterThan(whole.dispatches + 4 * 3);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    expect(Array.from(split.reads[3])).toEqual(Array.from(split.reads[0])); // gather at the argmax = the max
  });

  test('2×2 pooling (whole output rows) in ranges of planes matches the whole run', async () => {
    const shape = [5, 7, 10, 11], outShape = [5, 7, 5, 5];
    const r = rng(905);
    const x = f32(randArray(prod(shape), r));
    const g = f32(randArray(prod(outShape), r));
    const { whole, split } = await wholeAndSplit(2048, () => {
      const xt = T(x, shape, true);
      const { out, indices } = sl.maxPool2dWithIndices(xt, 2);
      const [dx] = sl.grad(out, [xt], { gradOutputs: [T(g, outShape)] }) as sl.Tensor[];
      return [out, indices, dx, sl.maxPool2d(T(x, shape), 2)];
    });
    expect(split.dispatches).toBeGreaterThan(whole.dispatches + 3);
    split.reads.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(whole.reads[i])));
    expect(Array.from(split.reads[3])).toEqual(Array.from(split.reads[0]));
  });
});

describe('reductions past the binding limit', () => {
  test('sum over kept and reduced first axes, and max, against f64', async () => {
    const r = rng(904);
    const a = f32(randArray(prod(SHAPE), r));
    const { whole, split } = await wholeAndSplit(8192, () => [
      sl.sum(T(a, SHAPE), [0, 2, 3]), sl.sum(T(a, SHAPE), [1, 3]), sl.max(T(a, SHAPE), 0), sl.sum(T(a, SHAPE)),
    ]);
    expect(split.dispatches).toBeGreaterThan(whole.dispatches + 10);
    const [N, C, H, W] = SHAPE;
    const perChannel = new Float64Array(C), perNH = new Float64Array(N * H), mx = new Float64Array(C * H * W).fill(-Infinity);
    let total = 0, mag = 0;
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      const v = a[((n * C + c) * H + h) * W + w];
      perChannel[c] += v;
      perNH[n * H + h] += v;
      mx[(c * H + h) * W + w] = Math.max(mx[(c * H + h) * W + w], v);
      total += v;
      mag += Math.abs(v);
    }
    // f32 sums of up to ~35,000 terms of |v| < 1: error well under 1e-6 of Σ|v|
    expectClose(split.reads[0], perChannel, { atol: 1e-6 * mag }, 'sum over N, H, W');
    expectClose(split.reads[1], perNH, { atol: 1e-4 }, 'sum over C, W');
    expect(Array.from(split.reads[2])).toEqual(Array.from(f32(mx)));
    expectClose(split.reads[3], [total], { atol: 1e-6 * mag }, 'sum of all');
    expectClose(split.reads[1], whole.reads[1], { atol: 1e-5 }, 'sum over C, W: whole vs split');
  });
});

describe('batch normalisation past the binding limit', () => {
  const r = rng(905);
  const x = f32(randArray(prod(SHAPE), r, -2, 3));
  const w = f32(randArray(3, r, 0.5, 1.5));
  const b = f32(randArray(3, r));
  const g = f32(randArray(prod(SHAPE), r));

  // SHAPE's planes of 77 values take the scalar split entries; planes of 44
  // (a multiple of 4) the *4 ones, with rows of 528 bytes.
  for (const shape of [SHAPE, [150, 3, 4, 11]]) {
    test(`training forward, running statistics and the fused backward, in ranges of images ${JSON.stringify(shape)}`, async () => {
      const plane = shape[2] * shape[3];
      const xs = x.subarray(0, prod(shape)), gs = g.subarray(0, prod(shape));
      const { whole, split } = await wholeAndSplit(8192, () => {
        const xt = T(xs, shape, true), wt = T(w, [3], true), bt = T(b, [3], true);
        const rm = sl.zeros([3]), rv = sl.ones([3]);
        const y = sl.batchNorm2d(xt, rm, rv, wt, bt, { training: true, momentum: 0.3 });
        const grads = sl.grad(y, [xt, wt, bt], { gradOutputs: [T(gs, shape)] }) as sl.Tensor[];
        const yEval = sl.batchNorm2d(T(xs, shape), rm, rv, T(w, [3]), T(b, [3]), { training: false });
        return [y, rm, rv, ...grads, yEval];
      });
      expect(split.dispatches).toBeGreaterThan(whole.dispatches + 20);
      const names = ['y', 'running mean', 'running var', 'dx', 'dweight', 'dbias', 'eval y'];
      split.reads.forEach((v, i) => expectClose(v, whole.reads[i], { rtol: 2e-5, atol: 2e-5 }, names[i]));
      // the batch statistics against f64: running = 0.3·batch (+ 0.7·1 for the variance, unbiased)
      const count = 150 * plane;
      for (let c = 0; c < 3; c++) {
        let s = 0, ss = 0;
        for (let n = 0; n < 150; n++) for (let k = 0; k < plane; k++) s += xs[(n * 3 + c) * plane + k];
        const mu = s / count;
        for (let n = 0; n < 150; n++) for (let k = 0; k < plane; k++) ss += (xs[(n * 3 + c) * plane + k] - mu) ** 2;
        expectClose([split.reads[1][c], split.reads[2][c]], [0.3 * mu, 0.7 + (0.3 * ss) / (count - 1)], { rtol: 1e-5, atol: 1e-6 }, `running stats ${c}`);
      }
    });
  }

  test('the composed backward (grad of grad) runs on split elementwise ops and reductions', async () => {
    const { whole, split } = await wholeAndSplit(8192, () => {
      const xt = T(x, SHAPE, true);
      const y = sl.batchNorm2d(xt, null, null, T(w, [3]), T(b, [3]), { training: true });
      const [dx] = sl.grad(sl.sum(sl.mul(y, T(g, SHAPE))), [xt], { createGraph: true }) as sl.Tensor[];
      const [ddx] = sl.grad(sl.sum(sl.square(dx)), [xt]) as sl.Tensor[];
      return [dx, ddx];
    });
    split.reads.forEach((v, i) => expectClose(v, whole.reads[i], { rtol: 1e-4, atol: 1e-5 }, ['dx', 'grad of |dx|²'][i]));
  });
});
