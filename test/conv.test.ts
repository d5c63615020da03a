// conv2d, convTranspose2d, and the input/weight gradients against f64
// references; gradients against finite differences; the adjoint identities
// that tie the three kernels together; double backward as the WGAN-GP
// penalty uses it; shape errors.
import { beforeAll, describe, expect, test } from 'vitest';
import { checkGrads, dot, expectClose, f32, finiteDiff, prod, randArray, rng, setup, sl, T } from './helpers.js';
import * as ref from './ref/conv.js';
// The ops straight from their module, so this file does not depend on index.ts's export list.
import * as cv from '../runtime/ops/conv.js';
import { bindingCap } from '../runtime/engine.js';

beforeAll(setup);

// A conv output is a sum of cin·kh·kw (≤ 125 here) f32 products of values in
// [-1, 1]; f32 accumulation error stays well under 1e-5 absolute.
const FWD = { rtol: 1e-4, atol: 1e-5 };
// Weight gradients sum over n·ho·wo (up to ~2·10⁴ here) products, in chunks.
const WGRAD = { rtol: 1e-4, atol: 1e-4 };
// Finite differences of the f64 reference (h = 1e-6, exact up to rounding for
// these linear maps) against f32 GPU gradients.
const GRAD = { rtol: 1e-3, atol: 1e-4 };

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  opts: cv.Conv2dOptions;
  bias?: boolean;
}

const convCases: ConvCase[] = [
  { name: 'odd channels, 3×3 pad 1', x: [3, 3, 7, 9], w: [5, 3, 3, 3], opts: { padding: 1 }, bias: true },
  { name: 'stride 2 pad 1', x: [2, 3, 7, 9], w: [5, 3, 3, 3], opts: { stride: 2, padding: 1 }, bias: true },
  { name: 'dilation 2 pad 2', x: [1, 5, 11, 10], w: [7, 5, 3, 3], opts: { dilation: 2, padding: 2 } },
  { name: '1×1 kernel', x: [2, 6, 5, 7], w: [9, 6, 1, 1], opts: {}, bias: true },
  { name: '5×5 stride 2 pad 2', x: [2, 3, 13, 11], w: [4, 3, 5, 5], opts: { stride: 2, padding: 2 }, bias: true },
  { name: 'asymmetric 3×2, stride [2,1], pad [0,2], dilation [1,3]', x: [1, 2, 8, 11], w: [3, 2, 3, 2], opts: { stride: [2, 1], padding: [0, 2], dilation: [1, 3] } },
  // Stride and dilation sharing a factor: some stride phases get no taps at all.
  { name: 'stride 2 dilation 2', x: [2, 3, 9, 10], w: [4, 3, 3, 2], opts: { stride: 2, dilation: 2, padding: [1, 2] }, bias: true },
  { name: 'stride 4 dilation 2, 5 input channels', x: [1, 5, 13, 12], w: [3, 5, 3, 4], opts: { stride: 4, dilation: 2, padding: 1 } },
  { name: 'one output channel, stride 3', x: [2, 4, 10, 9], w: [1, 4, 4, 3], opts: { stride: 3, padding: 1 }, bias: true },
  { name: 'many channels over several blocks', x: [2, 17, 6, 5], w: [13, 17, 3, 3], opts: { padding: 1 }, bias: true },
  { name: 'more pixels than one workgroup', x: [3, 2, 23, 19], w: [6, 2, 3, 3], opts: { padding: [1, 0] } },
  { name: '5×5, padding [1, 2], dilation [2, 1]', x: [2, 3, 12, 14], w: [6, 3, 5, 5], opts: { padding: [1, 2], dilation: [2, 1] }, bias: true },
  { name: '1×7, padding [0, 3]', x: [1, 2, 5, 17], w: [3, 2, 1, 7], opts: { padding: [0, 3] } },
];

function inputs(c: { x: number[]; w: number[] }, seed: number, biasLen = 0) {
  const r = rng(seed);
  return {
    x: f32(randArray(prod(c.x), r)),
    w: f32(randArray(prod(c.w), r)),
    b: f32(randArray(biasLen, r)),
  };
}

describe('conv2d forward', () => {
  convCases.forEach((c, k) => {
    test(c.name, async () => {
      const { x, w, b } = inputs(c, 100 + k, c.w[0]);
      const out = cv.conv2d(T(x, c.x), T(w, c.w), c.bias ? T(b, [c.w[0]]) : null, c.opts);
      const want = ref.conv2d(x, c.x, w, c.w, c.bias ? b : null, c.opts);
      expect(out.shape).toEqual(want.shape);
      expectClose(await out.read(), want.data, FWD, c.name);
    });
  });
});

describe('conv2d input and weight gradients as ops', () => {
  const cases: ConvCase[] = [
    ...convCases,
    // Enough output rows that the weight-gradient reduction is split into chunks.
    // More than 64 blocks of 4 input channels × taps: several workgroups per channel block.
    { name: 'many taps', x: [1, 33, 5, 4], w: [6, 33, 3, 3], opts: { padding: 1 } },
    { name: 'chunked weight-gradient reduction', x: [4, 2, 41, 37], w: [3, 2, 3, 3], opts: { stride: [1, 1], padding: 1 } },
  ];
  cases.forEach((c, k) => {
    test(c.name, async () => {
      const geo = ref.convGeo(c.x, c.w, c.opts);
      const r = rng(200 + k);
      const x = f32(randArray(prod(c.x), r)), w = f32(randArray(prod(c.w), r));
      const u = f32(randArray(prod(ref.yShape(geo)), r));
      const gx = cv.conv2dInputGrad(T(u, ref.yShape(geo)), T(w, c.w), c.x, c.opts);
      expect(gx.shape).toEqual(c.x);
      expectClose(await gx.read(), ref.convData(u, w, null, geo), FWD, `${c.name}: input grad`);
      const gw = cv.conv2dWeightGrad(T(x, c.x), T(u, ref.yShape(geo)), c.w, c.opts);
      expect(gw.shape).toEqual(c.w);
      expectClose(await gw.read(), ref.convFilter(x, u, geo), WGRAD, `${c.name}: weight grad`);
    });
  });

  // ⟨conv(x, w), u⟩ = ⟨x, inputGrad(u, w)⟩ = ⟨w, weightGrad(x, u)⟩: the three
  // GPU kernels are adjoints of one bilinear map.
  test('adjoint identities', async () => {
    for (const [k, c] of convCases.entries()) {
      const geo = ref.convGeo(c.x, c.w, c.opts);
      const r = rng(300 + k);
      const x = f32(randArray(prod(c.x), r)), w = f32(randArray(prod(c.w), r));
      const u = f32(randArray(prod(ref.yShape(geo)), r));
      const xt = T(x, c.x), wt = T(w, c.w), ut = T(u, ref.yShape(geo));
      const y = await cv.conv2d(xt, wt, null, c.opts).read();
      const dx = await cv.conv2dInputGrad(ut, wt, c.x, c.opts).read();
      const dw = await cv.conv2dWeightGrad(xt, ut, c.w, c.opts).read();
      const a = dot(y, u), bx = dot(x, dx), bw = dot(w, dw);
      const scale = Math.sqrt(dot(y, y) * dot(u, u)) + 1e-12;
      // each side is one f32 dot product's worth of rounding away from the f64 one
      expect(Math.abs(a - bx) / scale, `${c.name}: ⟨y,u⟩ vs ⟨x,dx⟩`).toBeLessThan(1e-5);
      expect(Math.abs(a - bw) / scale, `${c.name}: ⟨y,u⟩ vs ⟨w,dw⟩`).toBeLessThan(1e-5);
    }
  });
});

/** Run fn with the conv forward/input-gradient variant forced, then hand the previous one back. */
async function withConvVariant(variant: sl.ConvVariant, fn: () => Promise<void>): Promise<void> {
  const prev = sl.convVariant();
  sl.setConvVariant(variant);
  try {
    await fn();
  } finally {
    sl.setConvVariant(prev);
  }
}

// conv2d_subgroup.wgsl (picked by the tuner where subgroups exist) serves
// reductions over ≥ 8 channels: every geometry above, widened by 8 channels
// on both sides (so 9..25, none a multiple of 8), through both kernels.
describe('fwd and input grad with each kernel', () => {
  const wide = convCases.map((c) => ({ ...c, x: [c.x[0], c.x[1] + 8, ...c.x.slice(2)], w: [c.w[0] + 8, c.w[1] + 8, ...c.w.slice(2)] }));
  for (const variant of ['plain', 'subgroup', 'subgroup16', 'rows16'] as const) {
    test(variant, async (ctx) => {
      if (variant !== 'plain' && !sl.hasSubgroups(8)) ctx.skip();
      await withConvVariant(variant, async () => {
        for (const [k, c] of wide.entries()) {
          const geo = ref.convGeo(c.x, c.w, c.opts);
          const { x, w, b } = inputs(c, 500 + k, c.w[0]);
          const y = cv.conv2d(T(x, c.x), T(w, c.w), c.bias ? T(b, [c.w[0]]) : null, c.opts);
          expectClose(await y.read(), ref.conv2d(x, c.x, w, c.w, c.bias ? b : null, c.opts).data, FWD, `${variant} ${c.name}: forward`);
          const u = f32(randArray(prod(ref.yShape(geo)), rng(600 + k)));
          const gx = cv.conv2dInputGrad(T(u, ref.yShape(geo)), T(w, c.w), c.x, c.opts);
          expectClose(await gx.read(), ref.convData(u, w, null, geo), FWD, `${variant} ${c.name}: input grad`);
        }
      });
    });
  }
});

// Under 8 input channels the subgroup variants run the forward as fwd_taps
// (chunks of 8 taps over c_in·kh·kw): every narrow geometry above (9 to 75
// taps, so the last chunk is partial, and up to 20 output channels for
// blocks of 16), plus a first layer of 1 channel over more output channels.
describe('fwd under 8 input channels with each kernel', () => {
  const narrow = [
    ...convCases.filter((c) => c.x[1] < 8),
    { name: 'one input channel, 20 outputs', x: [2, 1, 9, 13], w: [20, 1, 3, 3], opts: { padding: 1 }, bias: true },
  ];
  for (const variant of ['plain', 'subgroup', 'subgroup16', 'rows16'] as const) {
    test(variant, async (ctx) => {
      if (variant !== 'plain' && !sl.hasSubgroups(8)) ctx.skip();
      await withConvVariant(variant, async () => {
        for (const [k, c] of narrow.entries()) {
          const { x, w, b } = inputs(c, 650 + k, c.w[0]);
          const y = cv.conv2d(T(x, c.x), T(w, c.w), c.bias ? T(b, [c.w[0]]) : null, c.opts);
          expectClose(await y.read(), ref.conv2d(x, c.x, w, c.w, c.bias ? b : null, c.opts).data, FWD, `${variant} ${c.name}`);
        }
        if (variant === 'plain' || !sl.getDevice().features.has('timestamp-query')) return;
        const kernels = (await sl.profile(() => sl.tidy(() => { cv.conv2d(sl.rand([1, 3, 9, 9]), sl.rand([4, 3, 3, 3])); }))).map((t) => t.kernel);
        expect(kernels).toContain('conv2d_subgroup.wgsl:fwd_taps');
      });
    });
  }
});

test('subgroup16 runs blocks of 16 channels, subgroup blocks of 8 (the same kernel, the same sums)', async (ctx) => {
  if (!sl.hasSubgroups(8)) ctx.skip();
  const e = sl.getEngine();
  const dispatch = e.dispatch;
  const prev = sl.convVariant();
  try {
    for (const [variant, block] of [['subgroup', 8], ['subgroup16', 16]] as const) {
      sl.setConvVariant(variant);
      const blocks: unknown[] = [];
      e.dispatch = ((k, d) => { blocks.push(d.constants?.BLOCK); return dispatch.call(e, k, d); }) as typeof e.dispatch;
      const x = sl.rand([2, 24, 9, 11]), w = sl.rand([24, 24, 3, 3]);
      sl.tidy(() => { cv.conv2d(x, w, null, { padding: 1 }); cv.conv2dInputGrad(sl.rand([2, 24, 9, 11]), w, [2, 24, 9, 11], { padding: 1 }); });
      e.dispatch = dispatch;
      expect(blocks.filter((b) => b !== undefined), variant).toEqual([block, block]);
    }
  } finally {
    e.dispatch = dispatch;
    sl.setConvVariant(prev);
  }
});

// rows16 runs fwd_rows (one kernel per row of taps and column stride) for
// the forward, and for the input gradient one per stride phase; elsewhere
// the subgroup kernel on blocks of 16 channels. The wide cases above check
// its sums; this checks which kernel each geometry got.
test('rows16 runs fwd_rows where it fits, else the subgroup kernel', async (ctx) => {
  if (!sl.hasSubgroups(8)) ctx.skip();
  const e = sl.getEngine();
  const dispatch = e.dispatch;
  const ran: string[] = [];
  try {
    await withConvVariant('rows16', async () => {
      e.dispatch = ((k, d) => { if (k.file.startsWith('conv2d')) ran.push(`${k.file}:${d.entry} ${d.constants?.BLOCK}`); return dispatch.call(e, k, d); }) as typeof e.dispatch;
      const run = (x: number[], w: number[], opts: sl.Conv2dOptions) => sl.tidy(() => {
        const wt = sl.rand(w);
        const y = cv.conv2d(sl.rand(x), wt, null, opts);
        cv.conv2dInputGrad(sl.rand(y.shape), wt, x, opts);
      });
      const expectRan = (want: string[], what: string) => { expect(ran.splice(0), what).toEqual(want); };
      run([2, 24, 9, 11], [20, 24, 3, 3], { padding: 1 });
      expectRan(['conv2d_rows_k3:fwd_rows 16', 'conv2d_rows_k3:fwd_rows 16'], '3×3, stride 1');
      run([1, 9, 8, 10], [9, 9, 5, 5], { padding: [2, 1], dilation: [2, 1] });
      expectRan(['conv2d_rows_k5:fwd_rows 16', 'conv2d_rows_k5:fwd_rows 16'], '5×5, row dilation 2');
      const rows = (name: string, times = 1, block = 16) => Array<string>(times).fill(`${name}:fwd_rows ${block}`);
      run([2, 24, 9, 11], [20, 24, 3, 3], { padding: 1, stride: [1, 2] });
      // the input gradient: one forward per stride phase, kx = 1 alone for
      // the even columns, kx = 0 and 2 for the odd
      expectRan([...rows('conv2d_rows_k3_s2'), ...rows('conv2d_rows_k1'), ...rows('conv2d_rows_k2')], 'column stride 2');
      run([2, 24, 13, 14], [20, 24, 5, 5], { padding: 2, stride: 2 });
      expectRan([...rows('conv2d_rows_k5_s2'), ...rows('conv2d_rows_k3'), ...rows('conv2d_rows_k2'), ...rows('conv2d_rows_k3'), ...rows('conv2d_rows_k2')],
        'the critic\'s 5×5 stride 2: four phases of 3×3, 3×2, 2×3, 2×2 taps');
      run([2, 24, 9, 11], [20, 24, 3, 3], { padding: 1, stride: [2, 1] });
      expectRan([...rows('conv2d_rows_k3'), ...rows('conv2d_rows_k3', 2)], 'row stride 2');
      run([2, 24, 9, 11], [20, 24, 3, 3], { padding: 1, stride: [1, 3] });
      expectRan(['conv2d_subgroup.wgsl:fwd 16', ...rows('conv2d_rows_k1', 3)], 'column stride 3: the input gradient only');
      run([2, 24, 9, 11], [20, 24, 1, 1], { stride: 2 });
      expectRan([...rows('conv2d_rows_k1_s2'), 'conv2d_subgroup.wgsl:data 16'], 'a kernel smaller than the stride: the forward only');
      run([2, 24, 9, 11], [20, 24, 1, 3], { padding: [0, 1], stride: [2, 1] });
      expectRan([...rows('conv2d_rows_k3'), 'conv2d_subgroup.wgsl:data 16'], 'a kernel shorter than the row stride: the forward only');
      run([2, 24, 9, 11], [20, 24, 3, 3], { padding: 2, dilation: [1, 2] });
      expectRan(['conv2d_subgroup.wgsl:fwd 16', 'conv2d_subgroup.wgsl:data 16'], 'column dilation 2');
      run([2, 24, 13, 11], [20, 24, 3, 3], { padding: [2, 1], dilation: [2, 1], stride: [2, 1] });
      expectRan([...rows('conv2d_rows_k3'), 'conv2d_subgroup.wgsl:data 16'], 'row dilation with a row stride: the forward only');
      run([1, 9, 4, 20], [9, 9, 1, 8], { padding: [0, 3] });
      expectRan(['conv2d_subgroup.wgsl:fwd 16', 'conv2d_subgroup.wgsl:data 16'], 'a row of 8 taps');
      run([2, 3, 9, 11], [20, 3, 3, 3], { padding: 1 });
      expectRan(['conv2d_subgroup.wgsl:fwd_taps 16', 'conv2d_rows_k3:fwd_rows 4'], 'under 8 input channels (the input gradient reduces over 20)');
      run([2, 24, 9, 11], [5, 24, 3, 3], { padding: 1 });
      expectRan(['conv2d_rows_k3:fwd_rows 8', 'conv2d.wgsl:data 8'], 'under 8 output channels');
    });
  } finally {
    e.dispatch = dispatch;
  }
});

// The weight gradient's kernels (the tuner picks one per adapter): every
// geometry, plus enough taps and channels for several 64×64 tiles and
// enough pixels for several chunks.
describe('weight grad with each kernel', () => {
  const cases: ConvCase[] = [
    ...convCases,
    { name: 'several tiles of taps and channels', x: [2, 9, 7, 6], w: [70, 9, 3, 3], opts: { padding: 1 } },
    // main's blocks of 8 input channels and 8 output channels, both partial
    { name: 'blocks of 8 input channels', x: [2, 13, 6, 7], w: [10, 13, 3, 3], opts: { padding: 1, stride: 2 } },
    { name: 'chunked pixels', x: [4, 2, 41, 37], w: [3, 2, 3, 3], opts: { padding: 1 } },
    // direct16's blocks of 16 output channels, the last partial, over blocks of 8 input channels
    { name: 'blocks of 16 output channels', x: [2, 11, 6, 7], w: [37, 11, 3, 3], opts: { padding: [1, 0], stride: [1, 2] } },
    // rows: a row of 4 taps, a partial block of 4 input channels, row stride
    // and dilation, a padding wider than the taps reach, several chunks
    { name: 'a row of 4 taps over chunks', x: [3, 6, 41, 37], w: [11, 6, 2, 4], opts: { padding: [1, 2], dilation: [2, 1], stride: [2, 1] } },
  ];
  for (const variant of ['direct', 'direct16', 'rows', 'tiled'] as const) {
    test(variant, async () => {
      const prev = sl.convGradVariant();
      sl.setConvGradVariant(variant);
      try {
        for (const [k, c] of cases.entries()) {
          const geo = ref.convGeo(c.x, c.w, c.opts);
          const r = rng(700 + k);
          const x = f32(randArray(prod(c.x), r)), u = f32(randArray(prod(ref.yShape(geo)), r));
          const gw = cv.conv2dWeightGrad(T(x, c.x), T(u, ref.yShape(geo)), c.w, c.opts);
          expectClose(await gw.read(), ref.convFilter(x, u, geo), WGRAD, `${variant} ${c.name}`);
        }
      } finally {
        sl.setConvGradVariant(prev);
      }
    });
  }
});

test('rows runs conv2d_grad.wgsl:rows for unit column strides and rows of ≤ 4 taps, else main on blocks of 16', async () => {
  const e = sl.getEngine();
  const dispatch = e.dispatch;
  const prev = sl.convGradVariant();
  const ran: string[] = [];
  try {
    sl.setConvGradVariant('rows');
    e.dispatch = ((k, d) => { if (k.file === 'conv2d_grad.wgsl') ran.push(`${d.entry} ${d.constants?.BLOCK ?? '-'}`); return dispatch.call(e, k, d); }) as typeof e.dispatch;
    const run = (x: number[], w: number[], opts: sl.Conv2dOptions) => sl.tidy(() => {
      const geo = ref.convGeo(x, w, opts);
      cv.conv2dWeightGrad(sl.rand(x), sl.rand(ref.yShape(geo)), w, opts);
    });
    run([2, 9, 8, 10], [20, 9, 3, 3], { padding: 1 });
    run([2, 9, 8, 10], [20, 9, 3, 3], { padding: 1, stride: [1, 2] });
    run([2, 9, 8, 10], [20, 9, 3, 5], { padding: 1 });
    run([2, 3, 8, 10], [20, 3, 3, 3], { padding: 1 });
    expect(ran).toEqual(['rows -', 'main 16', 'main 16', 'flat -']);
  } finally {
    e.dispatch = dispatch;
    sl.setConvGradVariant(prev);
  }
});

interface ConvTCase {
  name: string;
  x: number[];
  w: number[];
  opts: cv.ConvTranspose2dOptions;
  bias?: boolean;
}

const convTCases: ConvTCase[] = [
  { name: "generator's 5×5 stride 2 pad 2 outputPadding 1", x: [2, 6, 7, 6], w: [6, 3, 5, 5], opts: { stride: 2, padding: 2, outputPadding: 1 }, bias: true },
  { name: '3×3 stride 1', x: [3, 5, 4, 7], w: [5, 7, 3, 3], opts: {}, bias: true },
  { name: 'stride 3 wider than the 2×2 kernel', x: [1, 3, 5, 4], w: [3, 2, 2, 2], opts: { stride: 3, outputPadding: [2, 1] } },
  // outputPadding ≥ stride (allowed because < dilation): fewer y-space rows than the natural conv.
  { name: 'dilation 2, outputPadding 1 at stride 1', x: [2, 3, 5, 6], w: [3, 4, 3, 3], opts: { dilation: 2, padding: 1, outputPadding: 1 }, bias: true },
  { name: 'asymmetric stride [2,3] pad [1,0] 4×3', x: [1, 4, 6, 5], w: [4, 5, 4, 3], opts: { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2] } },
  { name: 'many channels', x: [2, 13, 5, 5], w: [13, 9, 3, 3], opts: { stride: 2, padding: 1, outputPadding: 1 }, bias: true },
];

describe('convTranspose2d forward', () => {
  convTCases.forEach((c, k) => {
    test(c.name, async () => {
      const { x, w, b } = inputs(c, 400 + k, c.w[1]);
      const out = cv.convTranspose2d(T(x, c.x), T(w, c.w), c.bias ? T(b, [c.w[1]]) : null, c.opts);
      const want = ref.convTranspose2d(x, c.x, w, c.w, c.bias ? b : null, c.opts);
      expect(out.shape).toEqual(want.shape);
      expectClose(await out.read(), want.data, FWD, c.name);
    });
  });
});

describe('gradients vs finite differences', () => {
  const small: ConvCase[] = [
    { name: 'conv2d stride 2 pad 1', x: [2, 3, 6, 5], w: [4, 3, 3, 3], opts: { stride: 2, padding: 1 }, bias: true },
    { name: 'conv2d dilation 2 asymmetric', x: [1, 2, 7, 6], w: [3, 2, 2, 3], opts: { dilation: [2, 1], padding: [1, 2], stride: [1, 2] }, bias: true },
  ];
  for (const c of small) {
    test(c.name, async () => {
      const { x, w, b } = inputs(c, 500, c.w[0]);
      await checkGrads(
        ([xt, wt, bt]) => cv.conv2d(xt, wt, bt, c.opts),
        ([xa, wa, ba]) => ref.conv2d(xa, c.x, wa, c.w, ba, c.opts).data,
        [{ data: x, shape: c.x }, { data: w, shape: c.w }, { data: b, shape: [c.w[0]] }],
        GRAD, c.name,
      );
    });
  }

  test("convTranspose2d, the generator's layer", async () => {
    const xs = [2, 3, 4, 3], ws = [3, 2, 5, 5];
    const opts = { stride: 2, padding: 2, outputPadding: 1 };
    const { x, w, b } = inputs({ x: xs, w: ws }, 501, ws[1]);
    await checkGrads(
      ([xt, wt, bt]) => cv.convTranspose2d(xt, wt, bt, opts),
      ([xa, wa, ba]) => ref.convTranspose2d(xa, xs, wa, ws, ba, opts).data,
      [{ data: x, shape: xs }, { data: w, shape: ws }, { data: b, shape: [ws[1]] }],
      GRAD, 'convTranspose2d',
    );
  });

  test('convTranspose2d with outputPadding ≥ stride (dilation 3)', async () => {
    const xs = [1, 2, 4, 5], ws = [2, 3, 2, 3];
    const opts = { dilation: 3, outputPadding: [2, 1] as [number, number], padding: 1 };
    const { x, w } = inputs({ x: xs, w: ws }, 502);
    await checkGrads(
      ([xt, wt]) => cv.convTranspose2d(xt, wt, null, opts),
      ([xa, wa]) => ref.convTranspose2d(xa, xs, wa, ws, null, opts).data,
      [{ data: x, shape: xs }, { data: w, shape: ws }],
      GRAD, 'convTranspose2d dilated',
    );
  });

  test('conv2dWeightGrad (x and g)', async () => {
    const xs = [2, 3, 7, 6], ws = [4, 3, 3, 2];
    const opts = { stride: [2, 1] as [number, number], padding: 1 };
    const geo = ref.convGeo(xs, ws, opts);
    const r = rng(503);
    const x = f32(randArray(prod(xs), r)), u = f32(randArray(prod(ref.yShape(geo)), r));
    await checkGrads(
      ([xt, ut]) => cv.conv2dWeightGrad(xt, ut, ws, opts),
      ([xa, ua]) => ref.convFilter(xa, ua, geo),
      [{ data: x, shape: xs }, { data: u, shape: ref.yShape(geo) }],
      GRAD, 'conv2dWeightGrad',
    );
  });

  test('conv2dInputGrad (g and w)', async () => {
    const xs = [2, 3, 7, 6], ws = [4, 3, 3, 3];
    const opts = { stride: 2, padding: 1, dilation: [1, 2] as [number, number] };
    const geo = ref.convGeo(xs, ws, opts);
    const r = rng(504);
    const u = f32(randArray(prod(ref.yShape(geo)), r)), w = f32(randArray(prod(ws), r));
    await checkGrads(
      ([ut, wt]) => cv.conv2dInputGrad(ut, wt, xs, opts),
      ([ua, wa]) => ref.convData(ua, wa, null, geo),
      [{ data: u, shape: ref.yShape(geo) }, { data: w, shape: ws }],
      GRAD, 'conv2dInputGrad',
    );
  });

  test('backward() accumulates into leaves', async () => {
    const xs = [2, 2, 5, 5], ws = [3, 2, 3, 3];
    const { x, w, b } = inputs({ x: xs, w: ws }, 505, 3);
    const wt = T(w, ws, true), bt = T(b, [3], true);
    const loss = sl.sum(sl.square(cv.conv2d(T(x, xs), wt, bt, { padding: 1 })));
    sl.backward(loss);
    const geo = ref.convGeo(xs, ws, { padding: 1 });
    const y = ref.conv(x, w, b, geo);
    const u = y.map((v) => 2 * v);
    expectClose(await wt.grad!.read(), ref.convFilter(x, u, geo), WGRAD, 'dw');
    const db = new Float64Array(3);
    u.forEach((v, i) => (db[Math.floor(i / 25) % 3] += v));
    expectClose(await bt.grad!.read(), db, WGRAD, 'db');
  });
});

// The WGAN-GP penalty: differentiate ‖∇ₓD‖² with respect to D's weights.
// D(x) = Σ w2 · leakyRelu(layer(x, w1) + b1); ∇ₓD = layerᵀ(w2 · slope(pre), w1).
// loss2 = Σ (∇ₓD)², a smooth function of w1 and w2 away from the kinks.
describe('double backward', () => {
  const SLOPE = 0.2;
  // f32 GPU vs central differences of the f64 reference with h = 1e-5.
  const DBL = { rtol: 2e-3, atol: 2e-4 };

  async function check(
    layer: (x: sl.Tensor, w: sl.Tensor, b: sl.Tensor) => sl.Tensor,
    geo: ref.Geo,
    transposed: boolean,
    seed: number,
  ): Promise<void> {
    // transposed: the layer maps y-space → x-space (conv-transpose); else x-space → y-space.
    const inS = transposed ? ref.yShape(geo) : ref.xShape(geo);
    const outS = transposed ? ref.xShape(geo) : ref.yShape(geo);
    const ws = transposed ? [geo.cout, geo.cin, geo.kh, geo.kw] : ref.wShape(geo);
    const r = rng(seed);
    const x = f32(randArray(prod(inS), r)), w1 = f32(randArray(prod(ws), r, -0.5, 0.5));
    const b1 = f32(randArray(outS[1], r, -0.2, 0.2)), w2 = f32(randArray(prod(outS), r));
    const fwd = (xa: ArrayLike<number>, wa: ArrayLike<number>) =>
      transposed ? ref.convData(xa, wa, b1, geo) : ref.conv(xa, wa, b1, geo);
    const back = (ua: ArrayLike<number>, wa: ArrayLike<number>) =>
      transposed ? ref.conv(ua, wa, null, geo) : ref.convData(ua, wa, null, geo);
    const loss2 = (w1a: ArrayLike<number>, w2a: ArrayLike<number>): number => {
      const m = ref.leakySlope(fwd(x, w1a), SLOPE);
      const gx = back(m.map((v, i) => v * w2a[i]), w1a);
      return dot(gx, gx);
    };

    const xt = T(x, inS, true), w1t = T(w1, ws, true), w2t = T(w2, outS, true);
    const d = sl.sum(sl.mul(w2t, sl.leakyRelu(layer(xt, w1t, T(b1, [outS[1]])), SLOPE)));
    const [gx] = sl.grad(d, [xt], { createGraph: true });
    expect(gx!.shape).toEqual(inS);
    const [g1, g2] = sl.grad(sl.sum(sl.square(gx!)), [w1t, w2t]);

    expectClose(await g1!.read(), finiteDiff((a) => loss2(a, w2), w1, 1e-5), DBL, 'd loss2 / d w1');
    expectClose(await g2!.read(), finiteDiff((a) => loss2(w1, a), w2, 1e-5), DBL, 'd loss2 / d w2');
  }

  test('conv2d critic layer', async () => {
    const opts = { stride: 2, padding: 1 };
    const geo = ref.convGeo([2, 3, 7, 6], [4, 3, 3, 3], opts);
    await check((x, w, b) => cv.conv2d(x, w, b, opts), geo, false, 600);
  });

  test('convTranspose2d layer', async () => {
    const opts = { stride: 2, padding: 2, outputPadding: 1 };
    const geo = ref.convTransposeGeo([2, 3, 3, 4], [3, 2, 5, 5], opts);
    await check((x, w, b) => cv.convTranspose2d(x, w, b, opts), geo, true, 601);
  });
});

describe('shape errors', () => {
  test('messages name both shapes', () => {
    const x = sl.zeros([2, 3, 8, 8]);
    expect(() => cv.conv2d(x, sl.zeros([4, 5, 3, 3]))).toThrow(/conv2d: input \[2, 3, 8, 8\] has 3 channels but weight \[4, 5, 3, 3\] expects 5/);
    expect(() => cv.conv2d(x, sl.zeros([4, 3, 9, 3]))).toThrow(/conv2d: kernel \[4, 3, 9, 3\].*larger than input \[2, 3, 8, 8\]/);
    expect(() => cv.conv2d(x, sl.zeros([4, 3, 5, 5]), null, { dilation: 2 })).toThrow(/larger than input/);
    expect(() => cv.conv2d(x, sl.zeros([4, 3, 3, 3]), sl.zeros([3]))).toThrow(/bias \[3\] does not fit weight \[4, 3, 3, 3\]/);
    expect(() => cv.conv2d(sl.zeros([3, 8, 8]), sl.zeros([4, 3, 3, 3]))).toThrow(/rank 4/);
    expect(() => cv.conv2d(x, sl.zeros([4, 3, 3, 3]), null, { stride: 0 })).toThrow(/stride/);
    expect(() => cv.convTranspose2d(x, sl.zeros([4, 3, 3, 3]))).toThrow(/convTranspose2d: input \[2, 3, 8, 8\] has 3 channels but weight \[4, 3, 3, 3\] expects 4/);
    expect(() => cv.convTranspose2d(x, sl.zeros([3, 4, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding 2×2 must be smaller/);
    expect(() => cv.conv2dWeightGrad(x, sl.zeros([2, 4, 7, 7]), [4, 3, 3, 3], { padding: 1 }))
      .toThrow(/conv2dWeightGrad: gradient \[2, 4, 7, 7\] does not match the conv output \[2, 4, 8, 8\]/);
  });
});

describe('batches past the storage binding limit', () => {
  // With the limit lowered to 4 KiB (864 bytes per input image), a 7-image
  // batch runs as 4 + 3 images: outputs copied into place, weight gradients summed.
  test('conv2d, convTranspose2d and the weight gradient split the batch', async () => {
    const xs = [7, 3, 9, 8], ws = [5, 3, 3, 3], opts = { padding: 1, stride: [1, 2] as [number, number] };
    const geo = ref.convGeo(xs, ws, opts);
    const r = rng(650);
    const x = f32(randArray(prod(xs), r)), w = f32(randArray(prod(ws), r)), b = f32(randArray(5, r));
    const u = f32(randArray(prod(ref.yShape(geo)), r));
    bindingCap.bytes = 4096;
    try {
      const y = cv.conv2d(T(x, xs), T(w, ws), T(b, [5]), opts);
      const dx = cv.conv2dInputGrad(T(u, ref.yShape(geo)), T(w, ws), xs, opts);
      const dw = cv.conv2dWeightGrad(T(x, xs), T(u, ref.yShape(geo)), ws, opts);
      expectClose(await y.read(), ref.conv(x, w, b, geo), FWD, 'conv2d');
      expectClose(await dx.read(), ref.convData(u, w, null, geo), FWD, 'input grad');
      expectClose(await dw.read(), ref.convFilter(x, u, geo), WGRAD, 'weight grad');
      expect(() => cv.conv2d(T(x, xs), sl.zeros([300, 3, 1, 1]))).toThrow(/one image of .* exceeds the 4096-byte storage binding limit/);
    } finally {
      bindingCap.bytes = 0;
    }
  });
});

describe('a spectrogram-sized batch', () => {
  // 32 slices of 128 mel bands × 258 frames through the classifier's first
  // layer; every output is written (NaN-poisoned buffer), a sample is checked.
  test('32×1×128×258 → 32 channels, 3×3 pad 1', async () => {
    const xs = [32, 1, 128, 258], ws = [32, 1, 3, 3];
    const r = rng(700);
    const x = f32(randArray(prod(xs), r)), w = f32(randArray(prod(ws), r)), b = f32(randArray(32, r));
    const out = cv.conv2d(T(x, xs), T(w, ws), T(b, [32]), { padding: 1 });
    expect(out.shape).toEqual([32, 32, 128, 258]);
    const y = await out.read();
    out.dispose();
    const H = 128, W = 258;
    let nan = 0;
    for (let i = 0; i < y.length; i++) if (Number.isNaN(y[i])) nan++;
    expect(nan, 'unwritten outputs').toBe(0);
    const idx: number[] = [];
    for (let k = 0; k < 300; k++) idx.push(Math.floor(r() * y.length));
    idx.push(0, y.length - 1, W - 1, H * W - 1); // corners
    const got: number[] = [], want: number[] = [];
    for (const i of idx) {
      const ow = i % W, oh = Math.floor(i / W) % H, co = Math.floor(i / (H * W)) % 32, n = Math.floor(i / (32 * H * W));
      let s = b[co];
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const ih = oh - 1 + ky, iw = ow - 1 + kx;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x[(n * H + ih) * W + iw] * w[co * 9 + ky * 3 + kx];
      }
      got.push(y[i]);
      want.push(s);
    }
    expectClose(got, want, FWD, 'sampled outputs');
  });
});
