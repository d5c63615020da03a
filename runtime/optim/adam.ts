// Adam (torch.optim.Adam) and, with `decoupled`, AdamW (torch.optim.AdamW):
// one fused kernel per parameter updates the parameter and both moments in
// place. Bias corrections are computed here in f64 and passed as uniforms.
import { getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, checkRange, type Hyper } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Adam: L2 penalty added to the gradient. AdamW (decoupled): param *= 1 − lr·weightDecay. */
  weightDecay?: number;
  /** AdamW's decoupled weight decay instead of Adam's L2 term. */
  decoupled?: boolean;
}

export class Adam extends Optimizer {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  decoupled: boolean;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, type = 'Adam') {
    super(params, type);
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.decoupled = opts.decoupled ?? false;
    this.validate();
  }

  private validate(): void {
    checkRange(this.type, 'lr', this.lr, 0);
    checkRange(this.type, 'eps', this.eps, 0);
    checkRange(this.type, 'beta1', this.betas[0], 0, 1, true);
    checkRange(this.type, 'beta2', this.betas[1], 0, 1, true);
    checkRange(this.type, 'weightDecay', this.weightDecay, 0);
  }

  step(): void {
    this.validate();
    const e = getEngine();
    const [b1, b2] = this.betas;
    for (let i = 0; i < this.params.length; i++) {
      const g = this.gradOf(i);
      if (!g) continue;
      const p = this.params[i];
      const m = this.stateTensor(i, 'exp_avg');
      const v = this.stateTensor(i, 'exp_avg_sq');
      const t = ++this.steps[i];
      e.dispatch(K.adam, {
        constants: { DECOUPLED: this.decoupled ? 1 : 0 },
        buffers: { param: p.buffer, grad: g.buffer, exp_avg: m.buffer, exp_avg_sq: v.buffer },
        uniforms: {
          n: p.size, lr: this.lr, beta1: b1, beta2: b2, eps: this.eps, weight_decay: this.weightDecay,
          step_size: this.lr / (1 - b1 ** t), bc2_sqrt: Math.sqrt(1 - b2 ** t),
        },
        workgroups: gridStride(p.size),
      });
    }
  }

  protected hyper(): Hyper {
    return { lr: this.lr, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, decoupled: this.decoupled };
  }

  protected setHyper(h: Hyper): void {
    this.lr = h.lr as number;
    this.betas = [...(h.betas as number[])] as [number, number];
    this.eps = h.eps as number;
    this.weightDecay = h.weightDecay as number;
    this.decoupled = h.decoupled as boolean;
    this.validate();
  }
}

/** Adam with decoupled weight decay (torch.optim.AdamW; its default weightDecay is 0.01). */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, opts: Omit<AdamOptions, 'decoupled'> = {}) {
    super(params, { weightDecay: 0.01, ...opts, decoupled: true }, 'AdamW');
  }
}
