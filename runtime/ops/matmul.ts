// Batched matrix multiply with free transposes (strides), and a fused-bias
// linear layer. Backward rules are matmuls of the same kind.
import { record } from '../autograd.js';
import { getEngine } from '../engine.js';
import { K } from '../kernels.js';
import { empty, tidy, type Tensor } from '../tensor.js';
import { matmulVariant, registerMatmulProbe, type MatmulVariant } from '../tune.js';
import { rand } from './random.js';
import { reshape } from './shape.js';
import { sum } from './reduce.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function dims(x: Tensor, trans: boolean): { batch: number[]; rows: number; cols: number } {
  const r = x.shape[x.rank - 2], c = x.shape[x.rank - 1];
  return { batch: x.shape.slice(0, -2), rows: trans ? c : r, cols: trans ? r : c };
}

function raw(a: Tensor, b: Tensor, ta: boolean, tb: boolean, bias: Tensor | null, variant: MatmulVariant = matmulVariant()): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error(`sleeve: matmul needs tensors of rank ≥ 2, got ${a.describe()} and ${b.describe()}`);
  const A = dims(a, ta), B = dims(b, tb);
  if (A.cols !== B.rows) {
    throw new Error(`sleeve: matmul: inner sizes differ: ${a.describe()}${ta ? 'ᵀ' : ''} · ${b.describe()}${tb ? 'ᵀ' : ''} (${A.cols} vs ${B.rows})`);
  }
  const ba = A.batch.reduce((p, q) => p * q, 1), bb = B.batch.reduce((p, q) => p * q, 1);
  const batchShape = ba >= bb ? A.batch : B.batch;
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(`sleeve: matmul: batch dims [${A.batch.join(', ')}] and [${B.batch.join(', ')}] do not broadcast`);
  }
  const batch = Math.max(ba, bb);
  const M = A.rows, N = B.cols, Kd = A.cols;
  const out = empty([...batchShape, M, N]);
  if (out.size === 0) return out;
  const ar = a.shape[a.rank - 1]; // row length of a as stored
  const br = b.shape[b.rank - 1];
  const tiled = variant === 'tiled';
  getEngine().dispatch(tiled ? K.matmulTiled : K.matmul, {
    buffers: { a: a.buffer, b: b.buffer, bias: (bias ?? a).buffer, c: out.buffer },
    uniforms: {
      m: M, n: N, k: Kd, batch,
      a_rs: ta ? 1 : ar, a_cs: ta ? ar : 1, a_bs: ba === 1 ? 0 : M * Kd,
      b_rs: tb ? 1 : br, b_cs: tb ? br : 1, b_bs: bb === 1 ? 0 : Kd * N,
      c_bs: M * N, has_bias: bias ? 1 : 0,
    },
    workgroups: tiled ? [Math.ceil(N / 64), Math.ceil(M / 64), batch] : [Math.ceil(N / 32), Math.ceil(M / 32), batch],
  });
  return out;
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

function reduceBatch(g: Tensor, like: Tensor): Tensor {
  if (g.rank === like.rank && g.shape.every((d, i) => d === like.shape[i])) return g;
  // like was broadcast over the batch: sum it out
  const flat = reshape(g, [-1, g.shape[g.rank - 2], g.shape[g.rank - 1]]);
  return reshape(sum(flat, 0), like.shape);
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

/** Run one product with a given variant (tests compare the variants). */
export function matmulWith(variant: MatmulVariant, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return raw(a, b, !!opts.transA, !!opts.transB, null, variant);
}

// The tuner's probe: a square product big enough to show the difference.
registerMatmulProbe((variant) => {
  tidy(() => {
    const a = rand([256, 256], { seed: 1 });
    raw(a, a, false, false, null, variant);
  });
});
