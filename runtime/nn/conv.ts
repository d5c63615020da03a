// Conv2d and ConvTranspose2d as torch.nn: PyTorch weight layouts
// ([Cout, Cin, kh, kw] and [Cin, Cout, kh, kw]) and torch's default init,
// U(−1/√fan_in, 1/√fan_in) for weight and bias, where fan_in is what torch
// computes from the weight tensor: size(1)·kh·kw. For ConvTranspose2d that
// is Cout·kh·kw (torch reads the transposed layout the same way).
import type { Tensor } from '../tensor.js';
import { conv2d, convTranspose2d } from '../ops/conv.js';
import { Module } from './module.js';
import { uniformInit } from './layers.js';

type Pair = number | [number, number];

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export interface Conv2dConfig {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  bias?: boolean;
}

export interface ConvTranspose2dConfig extends Conv2dConfig {
  outputPadding?: Pair;
}

function checkChannels(layer: string, inC: number, outC: number, k: [number, number]): void {
  if (![inC, outC, ...k].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error(`sleeve: ${layer}: channels and kernel size must be positive integers, got in=${inC}, out=${outC}, kernel=${k.join('×')}`);
  }
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, cfg: Conv2dConfig = {}) {
    super();
    this.kernelSize = pair(kernelSize);
    checkChannels('Conv2d', inChannels, outChannels, this.kernelSize);
    this.stride = pair(cfg.stride ?? 1);
    this.padding = pair(cfg.padding ?? 0);
    this.dilation = pair(cfg.dilation ?? 1);
    const [kh, kw] = this.kernelSize;
    const fanIn = inChannels * kh * kw;
    this.weight = this.registerParameter('weight', uniformInit([outChannels, inChannels, kh, kw], fanIn));
    this.bias = this.registerParameter('bias', cfg.bias ?? true ? uniformInit([outChannels], fanIn) : null);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation });
  }

  protected extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize.join('×')}, stride=${this.stride.join('×')}, padding=${this.padding.join('×')}`;
  }
}

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, cfg: ConvTranspose2dConfig = {}) {
    super();
    this.kernelSize = pair(kernelSize);
    checkChannels('ConvTranspose2d', inChannels, outChannels, this.kernelSize);
    this.stride = pair(cfg.stride ?? 1);
    this.padding = pair(cfg.padding ?? 0);
    this.outputPadding = pair(cfg.outputPadding ?? 0);
    this.dilation = pair(cfg.dilation ?? 1);
    const [kh, kw] = this.kernelSize;
    const fanIn = outChannels * kh * kw;
    this.weight = this.registerParameter('weight', uniformInit([inChannels, outChannels, kh, kw], fanIn));
    this.bias = this.registerParameter('bias', cfg.bias ?? true ? uniformInit([outChannels], fanIn) : null);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, dilation: this.dilation,
    });
  }

  protected extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize.join('×')}, stride=${this.stride.join('×')}, padding=${this.padding.join('×')}`;
  }
}
