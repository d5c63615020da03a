// Dropout (torch.nn.functional.dropout). The mask is a pure function of
// (seed, element index) computed in the shader, so nothing is stored: the
// gradient is the same op with the same seed applied to g, which is linear in
// g and therefore differentiable again.
import { record } from '../autograd.js';
import { getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, type Tensor } from '../tensor.js';
import { affine } from './elementwise.js';
import { nextSeed } from './random.js';

export interface DropoutOptions {
  /** Default true; false (eval) returns x unchanged. */
  training?: boolean;
  /** Fixes the mask; default: the next seed of the global generator (manualSeed). */
  seed?: number;
}

/** Zero each element with probability p and scale the rest by 1/(1 − p). */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`sleeve: dropout: probability ${p} for input ${x.describe()} must be in [0, 1]`);
  // Identity: an op (not x itself) so the result owns its buffer like any other op's.
  if (p === 0 || opts.training === false) return affine(x, 1, 0);
  return masked(x, p, (opts.seed ?? nextSeed()) >>> 0);
}

function masked(x: Tensor, p: number, seed: number): Tensor {
  const out = empty(x.shape);
  if (x.size > 0) {
    getEngine().dispatch(K.dropout, {
      buffers: { x: x.buffer, out: out.buffer },
      // p = 1 drops everything; scale 0 avoids an infinite factor.
      uniforms: { n: x.size, seed, keep: 1 - p, scale: p < 1 ? 1 / (1 - p) : 0 },
      workgroups: gridStride(x.size),
    });
  }
  return record(out, 'dropout', [x], (g) => [masked(g, p, seed)]);
}
