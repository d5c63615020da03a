// Batched matrix multiply with free transposes (strides), and a fused-bias
// linear layer. Backward rules are matmuls of the same kind.
import { noGrad, record } from '../autograd.js';
import { getEngine } from '../engine.js';
import { K, matmulSkinnyKernel } from '../kernels.js';
import { empty, tidy, type Tensor } from '../tensor.js';
import {
  collectingShapes, familyForced, matmulCandidates, matmulStridedVariant, matmulVariant, noteShape, registerMatmulProbe, shapeChoice, type MatmulVariant,
} from '../tune.js';
import { rand } from './random.js';
import { broadcastTo, reshape } from './shape.js';
import { add } from './elementwise.js';
import { sum, sumTo } from './reduce.js';
import { broadcastShapes } from './util.js';
import { SUBGROUP4_TILE } from '../codegen/matmul_subgroup4.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function dims(x: Tensor, trans: boolean): { batch: number[]; rows: number; cols: number } {
  const r = x.shape[x.rank - 2], c = x.shape[x.rank - 1];
  return { batch: x.shape.slice(0, -2), rows: trans ? c : r, cols: trans ? r : c };
}

/** A tuner variant, or the kernel for few rows or columns (matmul_skinny.wgsl). */
export type MatmulKernel = MatmulVariant | 'skinny';

function raw(a: Tensor, b: Tensor, ta: boolean, tb: boolean, bias: Tensor | null, forced?: MatmulKernel): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error(`sleeve: matmul needs tensors of rank ≥ 2, got ${a.describe()} and ${b.describe()}`);
  const A = dims(a, ta), B = dims(b, tb);
  if (A.cols !== B.rows) {
    throw new Error(`sleeve: matmul: inner sizes differ: ${a.describe()}${ta ? 'ᵀ' : ''} · ${b.describe()}${tb ? 'ᵀ' : ''} (${A.cols} vs ${B.rows})`);
  }
  // Batch axes broadcast as in torch.matmul. An operand whose batch is one
  // matrix is read with batch stride 0; any other partial broadcast is
  // expanded into a temporary copy first.
  const batchShape = broadcastShapes(A.batch, B.batch, 'matmul (batch axes)');
  const batch = batchShape.reduce((p, q) => p * q, 1);
  const expand = (t: Tensor, own: number[]): Tensor => {
    const n = own.reduce((p, q) => p * q, 1);
    if (n === 1 || n === batch) return t;
    return noGrad(() => broadcastTo(t, [...batchShape, t.shape[t.rank - 2], t.shape[t.rank - 1]]));
  };
  const ae = expand(a, A.batch), be = expand(b, B.batch);
  const ba = ae === a ? A.batch.reduce((p, q) => p * q, 1) : batch;
  const bb = be === b ? B.batch.reduce((p, q) => p * q, 1) : batch;
  const M = A.rows, N = B.cols, Kd = A.cols;
  const ar = a.shape[a.rank - 1]; // row length of a as stored
  const br = b.shape[b.rank - 1];
  // element strides of op(A) and op(B): along their rows and their columns
  const aRs = ta ? 1 : ar, aCs = ta ? ar : 1, bRs = tb ? 1 : br, bCs = tb ? br : 1;
  // A product with few rows or few columns may run matmul_skinny.wgsl: by
  // default where the few are at most 4, or both sides are small (a
  // classifier head, 32 × 10); tuneShapes() measures it for its shape
  // against the others wherever it can run. On lavapipe, against the
  // row-tiled kernels on one side of 1,024–65,536: 0.54–1.12× their time at
  // 1–4 rows, 0.85–2.16× at 8–16.
  const skinnyOk = batch === 1 && Math.min(M, N) <= SKINNY_MAX;
  const skinnyFirst = skinnyOk && (Math.min(M, N) <= 4 || Math.max(M, N) <= 512);
  const vec4 = aCs === 1 && bCs === 1 && Kd % 4 === 0 && N % 4 === 0 && !bias;
  const picked = forced ?? pickMatmul(a, b, ta, tb, batch * M * N * Kd, vec4, skinnyOk, skinnyFirst);
  if (picked === 'skinny') {
    const out = skinnyOk ? skinny(a, b, { M, N, Kd, aRs, aCs, bRs, bCs }, batchShape, bias) : null;
    if (out) return out;
  }
  // subgroup4 reads both operands as vec4s: row-major, K and N multiples of
  // 4; it adds no bias (linear's transposed weight never qualifies anyway).
  // Other products get the tuner's choice for them.
  let variant = picked === 'skinny' ? matmulVariant(batch * M * N * Kd) : picked;
  if (readsVec4(variant) && !vec4) variant = matmulStridedVariant();
  // Output tile of one workgroup, rows × columns, per variant.
  const [tileRows, tileCols, kernel] = {
    blocked: [32, 32, K.matmul], tiled: [64, 64, K.matmulTiled], tiled128: [128, 128, K.matmulTiled128],
    subgroup: [16, 128, K.matmulSubgroup], subgroup4: [...SUBGROUP4_TILE, K.matmulSubgroup4],
    subgroup8: [SUBGROUP4_TILE[0], 2 * SUBGROUP4_TILE[1], K.matmulSubgroup8],
  }[variant] as [number, number, typeof K.matmul];
  const S = batch === 1 ? splitK(M, N, Kd, tileRows, tileCols, readsVec4(variant) ? 4 : 1) : 1;
  if (S > 1) {
    // Split-K: S chunks of the inner axis are S batch items of the same
    // kernel (batch strides step along K), each writing a partial product.
    const kc = Kd / S;
    const partials = empty([S, M, N]);
    getEngine().dispatch(kernel, {
      buffers: withBias(variant, { a: a.buffer, b: b.buffer, c: partials.buffer }, a.buffer),
      uniforms: {
        m: M, n: N, k: kc, batch: S,
        a_rs: aRs, a_cs: aCs, a_bs: kc * aCs,
        b_rs: bRs, b_cs: bCs, b_bs: kc * bRs,
        c_bs: M * N, has_bias: 0,
      },
      workgroups: [Math.ceil(N / tileCols), Math.ceil(M / tileRows), S],
    });
    const out = noGrad(() => {
      const s = sum(partials, 0);
      const r = reshape(s, [...batchShape, M, N]); // a view: it keeps the storage
      s.dispose();
      if (!bias) return r;
      const withBias = add(r, bias);
      r.dispose();
      return withBias;
    });
    partials.dispose();
    return out;
  }
  const out = empty([...batchShape, M, N]);
  // A single product with more row tiles than one grid dimension allows runs
  // in row blocks, each binding its slice of A and C (offsets stay 256-byte
  // aligned because blocks are multiples of 64 rows).
  const blockRows = batch === 1 ? Math.floor((65535 * tileRows) / 64) * 64 : M;
  for (let r0 = 0; r0 < M && out.size > 0; r0 += blockRows) {
    const rows = Math.min(blockRows, M - r0);
    const aOff = r0 * aRs * 4, cOff = r0 * N * 4;
    getEngine().dispatch(kernel, {
      buffers: withBias(variant, {
        a: aOff ? { buffer: ae.buffer, offset: aOff, size: ae.size * 4 - aOff } : ae.buffer,
        b: be.buffer,
        c: cOff ? { buffer: out.buffer, offset: cOff, size: rows * N * 4 } : out.buffer,
      }, (bias ?? a).buffer),
      uniforms: {
        m: rows, n: N, k: Kd, batch,
        a_rs: aRs, a_cs: aCs, a_bs: ba === 1 ? 0 : M * Kd,
        b_rs: bRs, b_cs: bCs, b_bs: bb === 1 ? 0 : Kd * N,
        c_bs: M * N, has_bias: bias ? 1 : 0,
      },
      workgroups: [Math.ceil(N / tileCols), Math.ceil(rows / tileRows), batch],
    });
  }
  if (ae !== a) ae.dispose();
  if (be !== b) be.dispose();
  return out;
}

type Binding = GPUBuffer | GPUBufferBinding;

interface Geometry { M: number; N: number; Kd: number; aRs: number; aCs: number; bRs: number; bCs: number }

const SKINNY_MAX = 16;

/**
 * A single product with at most SKINNY_MAX rows, or at most SKINNY_MAX
 * columns (then computed as Cᵀ = op(B)ᵀ·op(A)ᵀ by swapping the operands' and
 * the output's strides): matmul_skinny.wgsl, a lane per 4 columns holding
 * every row (a kernel per row count). A short row of
 * lanes (a classifier head: 10 columns over K = 65,536) is split along K
 * into chunks whose partial products are summed, so at least ~8,192 lanes
 * work. Null where the grid would not fit (then the row-tiled kernels run).
 */
function skinny(a: Tensor, b: Tensor, g: Geometry, batchShape: number[], bias: Tensor | null): Tensor | null {
  const { M, N, Kd } = g;
  const swap = M > SKINNY_MAX || (N < M && N <= SKINNY_MAX);
  const m = swap ? N : M, n = swap ? M : N;
  const lanes = Math.ceil(n / 4);
  const groups = Math.ceil(lanes / 64);
  if (m * n === 0 || groups > 65535) return null;
  let S = lanes >= 4096 || Kd < 1024 ? 1 : Math.min(Math.ceil(8192 / lanes), Math.floor(Kd / 256));
  const chunk = Math.ceil(Kd / S);
  S = Math.ceil(Kd / chunk) || 1;
  const target = empty(S === 1 ? [...batchShape, M, N] : [S, M, N]);
  getEngine().dispatch(matmulSkinnyKernel(m), {
    buffers: { a: swap ? b.buffer : a.buffer, b: swap ? a.buffer : b.buffer, c: target.buffer },
    uniforms: {
      m, n, k: Kd, chunk,
      a_rs: swap ? g.bCs : g.aRs, a_ks: swap ? g.bRs : g.aCs,
      b_ks: swap ? g.aCs : g.bRs, b_cs: swap ? g.aRs : g.bCs,
      c_rs: swap ? 1 : N, c_cs: swap ? N : 1, c_ss: M * N,
    },
    workgroups: [groups, S, 1],
  });
  if (S === 1 && !bias) return target;
  return noGrad(() => {
    let out = target;
    if (S > 1) {
      const s = sum(target, 0);
      out = reshape(s, [...batchShape, M, N]); // a view: it keeps the storage
      s.dispose();
      target.dispose();
    }
    if (!bias) return out;
    const withBias = add(out, bias);
    out.dispose();
    return withBias;
  });
}

/** The kernels that read both operands as vec4s and take no bias. */
const readsVec4 = (v: MatmulVariant): boolean => v === 'subgroup4' || v === 'subgroup8';

/** The buffers plus `bias` (a stand-in when has_bias is 0), for the kernels
 * that bind one: subgroup4 takes no bias. */
function withBias(variant: MatmulVariant, buffers: Record<string, Binding>, bias: GPUBuffer): Record<string, Binding> {
  return readsVec4(variant) ? buffers : { ...buffers, bias };
}

/** tuneShapes()'s choice for this product, else `skinny` where it comes
 * first, else the adapter-wide choice by size; while tuneShapes() collects,
 * the product is reported with a way to run it. */
function pickMatmul(a: Tensor, b: Tensor, ta: boolean, tb: boolean, macs: number, vec4: boolean, skinnyOk: boolean, skinnyFirst: boolean): MatmulKernel {
  const key = `[${a.shape.join(', ')}]${ta ? 'ᵀ' : ''}·[${b.shape.join(', ')}]${tb ? 'ᵀ' : ''}`;
  const candidates: MatmulKernel[] = [...(skinnyOk ? ['skinny' as const] : []), ...matmulCandidates().filter((v) => vec4 || !readsVec4(v))];
  if (collectingShapes()) {
    const as = a.shape, bs = b.shape;
    noteShape({ family: 'matmul', key, variants: candidates, run: (v) => tidy(() => { raw(rand(as), rand(bs), ta, tb, null, v as MatmulKernel); }) });
  }
  const chosen = shapeChoice('matmul', key) as MatmulKernel | undefined;
  if (chosen && candidates.includes(chosen)) return chosen;
  // a variant forced with setMatmulVariant() runs every product
  return skinnyFirst && !familyForced('matmul') ? 'skinny' : matmulVariant(macs);
}

/** Chunks to cut the inner axis into (1: none). A product with few output
 * tiles and a long K (a linear layer on a flattened feature map, 64×80,000 ·
 * 80,000×1) would otherwise run on a handful of workgroups that each walk all
 * of K. Chunks are equal (S divides K), at least 256 long and a multiple of
 * `align` (the vec4 kernel's batch stride steps along K). */
function splitK(M: number, N: number, Kd: number, tileRows: number, tileCols: number, align: number): number {
  const tiles = Math.ceil(M / tileRows) * Math.ceil(N / tileCols);
  if (tiles >= 32 || Kd < 4096) return 1;
  const most = Math.min(64, Math.ceil(128 / tiles), Math.floor(Kd / 256));
  for (let s = most; s > 1; s--) if (Kd % s === 0 && (Kd / s) % align === 0) return s;
  return 1;
}

/** a · b over the last two axes, batched over the rest (torch.matmul for rank ≥ 2). */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const ta = !!opts.transA, tb = !!opts.transB;
  const out = raw(a, b, ta, tb, null);
  return record(out, 'matmul', [a, b], (g, needs) => {
    // C = op(A)·op(B): dop(A) = g·op(B)ᵀ, dop(B) = op(A)ᵀ·g
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (needs[0]) ga = ta ? matmul(b, g, { transA: tb, transB: true }) : matmul(g, b, { transB: !tb });
    if (needs[1]) gb = tb ? matmul(g, a, { transA: true, transB: ta }) : matmul(a, g, { transA: !ta });
    return [ga && reduceBatch(ga, a), gb && reduceBatch(gb, b)];
  });
}

/** Sum a gradient over the batch axes its operand was broadcast along. */
function reduceBatch(g: Tensor, like: Tensor): Tensor {
  return sumTo(g, like.shape);
}

/** y = x·wᵀ + b with w of shape [out, in] (torch.nn.functional.linear). */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  if (x.rank !== 2) {
    const lead = x.shape.slice(0, -1);
    return reshape(linear(reshape(x, [-1, x.shape[x.rank - 1]]), w, b), [...lead, w.shape[0]]);
  }
  if (w.rank !== 2 || w.shape[1] !== x.shape[1]) throw new Error(`sleeve: linear: input ${x.describe()} does not fit weight ${w.describe()}`);
  if (b && (b.rank !== 1 || b.size !== w.shape[0])) throw new Error(`sleeve: linear: bias ${b.describe()} does not fit weight ${w.describe()}`);
  const out = raw(x, w, false, true, b ?? null);
  const inputs = b ? [x, w, b] : [x, w];
  return record(out, 'linear', inputs, (g, needs) => [
    needs[0] ? matmul(g, w) : null,
    needs[1] ? matmul(g, x, { transA: true }) : null,
    b && needs[2] ? sum(g, 0) : null,
  ]);
}

/** Run one product with a given kernel (tests compare them). */
export function matmulWith(variant: MatmulKernel, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return raw(a, b, !!opts.transA, !!opts.transB, null, variant);
}

// The tuner's probes: square products, small and large, and a small one
// with its second operand transposed.
const probe = (n: number, tb = false) => (variant: MatmulVariant) => {
  tidy(() => {
    const a = rand([n, n], { seed: 1 });
    raw(a, a, false, tb, null, variant);
  });
};
registerMatmulProbe(probe(256), probe(2048), probe(256, true));
