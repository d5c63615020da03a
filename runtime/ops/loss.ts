// Softmax, log-softmax and softmax cross-entropy (torch.nn.functional.cross_entropy
// with class-index targets). The loss has a fused kernel each way; when the
// graph is kept, its gradient is composed from differentiable ops instead.
import { isGradEnabled, noGrad, record } from '../autograd.js';
import { getEngine, grid1d, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, tensor, view, type Tensor } from '../tensor.js';
import { div, exp, log, mul, sub } from './elementwise.js';
import { max, mean, sum } from './reduce.js';
import { reshape } from './shape.js';
import { normAxis } from './util.js';

/** log(softmax(x)) along axis, as x − m − log Σ exp(x − m) with m the (constant) max. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis(axis, x.rank, 'logSoftmax');
  // The shift cancels in both value and gradient, so it need not be on the tape.
  const m = noGrad(() => max(x, a, true));
  const z = sub(x, m);
  return sub(z, log(sum(exp(z), a, true)));
}

/** exp(x − m) / Σ exp(x − m) along axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis(axis, x.rank, 'softmax');
  const m = noGrad(() => max(x, a, true));
  const e = exp(sub(x, m));
  return div(e, sum(e, a, true));
}

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
  /** ε: the target becomes (1 − ε)·onehot + ε/C (torch's label_smoothing). */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits [N, C] and class indices (a tensor [N] of
 * integers stored as f32, or a host array). 'mean' averages over rows.
 */
export function crossEntropy(logits: Tensor, labels: Tensor | readonly number[], opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  const eps = opts.labelSmoothing ?? 0;
  if (logits.rank !== 2) throw new Error(`sleeve: crossEntropy: logits ${logits.describe()} must be [N, C]`);
  const [n, c] = logits.shape;
  if (c < 1) throw new Error(`sleeve: crossEntropy: logits ${logits.describe()} have no classes`);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`sleeve: crossEntropy: labelSmoothing ${eps} must be in [0, 1]`);
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`sleeve: crossEntropy: unknown reduction '${reduction}'`);
  let lab: Tensor;
  if (Array.isArray(labels)) {
    if (labels.length !== n) throw new Error(`sleeve: crossEntropy: ${labels.length} labels for logits ${logits.describe()}`);
    labels.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0 || l >= c) {
        throw new Error(`sleeve: crossEntropy: label ${l} at row ${i} is not a class index in [0, ${c}) for logits ${logits.describe()}`);
      }
    });
    lab = tensor(labels, [n]);
  } else {
    lab = labels as Tensor;
    if (lab.size !== n || lab.rank > 2 || (lab.rank === 2 && lab.shape[1] !== 1)) {
      throw new Error(`sleeve: crossEntropy: labels ${lab.describe()} do not match logits ${logits.describe()} (want [${n}])`);
    }
  }
  const rows = rowLosses(logits, lab, eps);
  if (lab !== labels) lab.dispose(); // uploaded here; the node keeps its own handle
  if (reduction === 'none') return rows;
  return reduction === 'sum' ? sum(rows) : mean(rows);
}

function uniforms(logits: Tensor, eps: number): Record<string, number> {
  return { rows: logits.shape[0], cols: logits.shape[1], smoothing: eps };
}

/** Per-row loss [N]: one workgroup per row. */
function rowLosses(logits: Tensor, labels: Tensor, eps: number): Tensor {
  const out = empty([logits.shape[0]]);
  if (out.size > 0) {
    getEngine().dispatch(K.softmaxXent, {
      entry: 'forward',
      buffers: { logits: logits.buffer, labels: labels.buffer, loss: out.buffer },
      uniforms: uniforms(logits, eps), workgroups: grid1d(out.size, 1),
    });
  }
  // the node's own handle on the labels: the caller may dispose theirs
  const lab = view(labels, labels.shape);
  return record(out, 'crossEntropy', [logits], (g) => [
    isGradEnabled() ? composedGrad(g, logits, lab, eps) : fusedGrad(g, logits, lab, eps),
  ], [lab]);
}

/** g_row · (softmax − target) in one dispatch (not differentiable). */
function fusedGrad(g: Tensor, logits: Tensor, labels: Tensor, eps: number): Tensor {
  const dx = empty(logits.shape);
  if (dx.size > 0) {
    getEngine().dispatch(K.softmaxXent, {
      entry: 'backward',
      buffers: { logits: logits.buffer, labels: labels.buffer, g: g.buffer, dlogits: dx.buffer },
      uniforms: uniforms(logits, eps), workgroups: grid1d(logits.shape[0], 1),
    });
  }
  return dx;
}

/** The same gradient in differentiable ops (softmax is on the tape). */
function composedGrad(g: Tensor, logits: Tensor, labels: Tensor, eps: number): Tensor {
  const target = empty(logits.shape);
  if (target.size > 0) {
    getEngine().dispatch(K.softmaxXent, {
      entry: 'onehot',
      buffers: { labels: labels.buffer, onehot_out: target.buffer },
      uniforms: uniforms(logits, eps), workgroups: gridStride(target.size),
    });
  }
  return mul(sub(softmax(logits, 1), target), reshape(g, [logits.shape[0], 1]));
}
