// SGD with optional momentum, dampening, Nesterov and L2 weight decay
// (torch.optim.SGD's formulas), one fused in-place kernel per parameter.
import { getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, checkRange, type Hyper } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;

  constructor(params: Iterable<Tensor>, opts: SGDOptions) {
    super(params, 'SGD');
    if (opts?.lr === undefined) throw new Error('sleeve: optim.SGD: lr is required');
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.validate();
  }

  private validate(): void {
    checkRange('SGD', 'lr', this.lr, 0);
    checkRange('SGD', 'momentum', this.momentum, 0);
    checkRange('SGD', 'weightDecay', this.weightDecay, 0);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('sleeve: optim.SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  step(): void {
    this.validate();
    const e = getEngine();
    for (let i = 0; i < this.params.length; i++) {
      const g = this.gradOf(i);
      if (!g) continue;
      const p = this.params[i];
      // torch starts the momentum buffer as a copy of the first gradient
      const first = !this.state[i].has('momentum_buffer');
      this.steps[i]++;
      const uniforms = {
        n: p.size, lr: this.lr, momentum: this.momentum, dampening: this.dampening,
        weight_decay: this.weightDecay, first: first ? 1 : 0,
      };
      if (this.momentum === 0) {
        e.dispatch(K.sgd, { entry: 'plain', buffers: { param: p.buffer, grad: g.buffer }, uniforms, workgroups: gridStride(p.size) });
      } else {
        const buf = this.stateTensor(i, 'momentum_buffer');
        e.dispatch(K.sgd, {
          entry: 'momentum', constants: { NESTEROV: this.nesterov ? 1 : 0 },
          buffers: { param: p.buffer, grad: g.buffer, momentum_buf: buf.buffer }, uniforms,
          workgroups: gridStride(p.size),
        });
      }
    }
  }

  protected hyper(): Hyper {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected setHyper(h: Hyper): void {
    this.lr = h.lr as number;
    this.momentum = h.momentum as number;
    this.dampening = h.dampening as number;
    this.weightDecay = h.weightDecay as number;
    this.nesterov = h.nesterov as boolean;
    this.validate();
  }
}
