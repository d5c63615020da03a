// Linear, Embedding, the activations, MaxPool2d, Dropout, Flatten,
// Sequential. Names, defaults and initialisations follow torch.nn, so
// checkpoints map key for key and a model built after manualSeed(s) is the
// same model every time.
import { Tensor } from '../tensor.js';
import { leakyRelu, relu, sigmoid, tanh } from '../ops/elementwise.js';
import { linear, matmul } from '../ops/matmul.js';
import { rand, randn } from '../ops/random.js';
import { maxPool2d } from '../ops/pool.js';
import { dropout } from '../ops/dropout.js';
import { reshape } from '../ops/shape.js';
import { normAxis } from '../ops/util.js';
import { oneHot } from './functional.js';
import { Module } from './module.js';

/**
 * torch's default for Linear and conv layers: kaiming_uniform_(a = √5) on the
 * weight, which is U(−1/√fan_in, 1/√fan_in), and the same bound for the bias.
 */
export function uniformInit(shape: number[], fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rand(shape, { low: -bound, high: bound });
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  /** y = x·Wᵀ + b with W [outFeatures, inFeatures] (torch.nn.Linear). */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures));
    this.bias = this.registerParameter('bias', opts.bias ?? true ? uniformInit([outFeatures], inFeatures) : null);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  protected extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * A lookup table of numEmbeddings rows of size embeddingDim, initialised
 * N(0, 1) like torch.nn.Embedding. forward(indices) = oneHot(indices) · weight,
 * a matmul, so the weight's gradient is the usual scatter-add of the rows.
 * Indices: a Tensor of integer values (any shape; out-of-range gives zero
 * rows) or a host array (1-D; range-checked).
 */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    this.weight = this.registerParameter('weight', randn([numEmbeddings, embeddingDim]));
  }

  forward(indices: Tensor | ArrayLike<number>): Tensor {
    const hot = oneHot(indices, this.numEmbeddings);
    const flat = reshape(hot, [-1, this.numEmbeddings]);
    const rows = matmul(flat, this.weight);
    return reshape(rows, [...hot.shape.slice(0, -1), this.embeddingDim]);
  }

  protected extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  protected extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

type Pair = number | [number, number];

/** Max over kernelSize windows; stride defaults to kernelSize (torch.nn.MaxPool2d). */
export class MaxPool2d extends Module {
  readonly stride: Pair;

  constructor(readonly kernelSize: Pair, readonly opts: { stride?: Pair; padding?: Pair } = {}) {
    super();
    this.stride = opts.stride ?? kernelSize;
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.opts.padding ?? 0 });
  }

  protected extraRepr(): string {
    return `kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${this.opts.padding ?? 0}`;
  }
}

/** Zeroes elements with probability p while training and scales the rest by
 * 1/(1 − p); identity in eval mode (torch.nn.Dropout). Masks come from the
 * global generator, so manualSeed() makes them reproducible. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`sleeve: Dropout: probability ${p} must be in [0, 1]`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }

  protected extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Merge axes startDim..endDim into one (torch.nn.Flatten: default 1..−1). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    if (x.rank === 0) return reshape(x, [1]);
    const s = normAxis(this.startDim, x.rank, 'Flatten');
    const e = normAxis(this.endDim, x.rank, 'Flatten');
    if (s > e) throw new Error(`sleeve: Flatten: startDim ${this.startDim} comes after endDim ${this.endDim} for ${x.describe()}`);
    const merged = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
    return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
  }

  protected extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Modules applied in order; children are named '0', '1', ... as in torch. */
export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    this.registerModule(String(this.layers.length), m);
    this.layers.push(m);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  /** The i-th layer (negative counts from the end). */
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new Error(`sleeve: Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.layers[Symbol.iterator]();
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
