// BatchNorm2d as torch.nn.BatchNorm2d: weight 1, bias 0, running_mean 0,
// running_var 1, momentum 0.1, eps 1e-5. Training normalises with batch
// statistics and updates the running ones in place; eval uses the running ones.
import { Tensor } from '../tensor.js';
import { full } from '../ops/elementwise.js';
import { batchNorm2d } from '../ops/norm.js';
import { Module } from './module.js';

export interface BatchNormConfig {
  eps?: number;
  momentum?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics (default true); without them eval also uses batch statistics. */
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, cfg: BatchNormConfig = {}) {
    super();
    this.eps = cfg.eps ?? 1e-5;
    this.momentum = cfg.momentum ?? 0.1;
    const affine = cfg.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? full([numFeatures], 1) : null);
    this.bias = this.registerParameter('bias', affine ? full([numFeatures], 0) : null);
    const track = cfg.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', full([numFeatures], 0)) : null;
    this.runningVar = track ? this.registerBuffer('running_var', full([numFeatures], 1)) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4) throw new Error(`sleeve: BatchNorm2d: expected a 4-D input [N, C, H, W], got ${x.describe()}`);
    if (x.shape[1] !== this.numFeatures) throw new Error(`sleeve: BatchNorm2d(${this.numFeatures}): input ${x.describe()} has ${x.shape[1]} channels`);
    const useBatch = this.training || !this.runningMean;
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: useBatch, momentum: this.momentum, eps: this.eps,
    });
  }

  // torch checkpoints carry num_batches_tracked (used only when momentum is
  // None, which this layer does not offer): accepted and ignored on load.
  protected ignoredStateKeys(): string[] {
    return ['num_batches_tracked'];
  }

  protected extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}`;
  }
}
