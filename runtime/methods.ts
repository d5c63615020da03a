// Chainable tensor methods (x.add(y).relu().sum().backward()), attached to
// the Tensor prototype here so tensor.ts need not import the ops.
import { Tensor } from './tensor.js';
import { backward, detach } from './autograd.js';
import * as ew from './ops/elementwise.js';
import * as sh from './ops/shape.js';
import * as rd from './ops/reduce.js';
import * as mm from './ops/matmul.js';

type Operand = Tensor | number;

declare module './tensor.js' {
  interface Tensor {
    add(o: Operand): Tensor;
    sub(o: Operand): Tensor;
    mul(o: Operand): Tensor;
    div(o: Operand): Tensor;
    pow(o: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    square(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    leakyRelu(negativeSlope?: number): Tensor;
    abs(): Tensor;
    sum(axis?: number | number[], keepDims?: boolean): Tensor;
    mean(axis?: number | number[], keepDims?: boolean): Tensor;
    max(axis?: number | number[], keepDims?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(...shape: number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(...dims: number[]): Tensor;
    transpose(d0?: number, d1?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    squeeze(dim?: number): Tensor;
    matmul(o: Tensor): Tensor;
    detach(): Tensor;
    backward(gradOutput?: Tensor): void;
  }
}

const P = Tensor.prototype;
P.add = function (o) { return ew.add(this, o); };
P.sub = function (o) { return ew.sub(this, o); };
P.mul = function (o) { return ew.mul(this, o); };
P.div = function (o) { return ew.div(this, o); };
P.pow = function (o) { return ew.pow(this, o); };
P.neg = function () { return ew.neg(this); };
P.exp = function () { return ew.exp(this); };
P.log = function () { return ew.log(this); };
P.sqrt = function () { return ew.sqrt(this); };
P.square = function () { return ew.square(this); };
P.tanh = function () { return ew.tanh(this); };
P.sigmoid = function () { return ew.sigmoid(this); };
P.relu = function () { return ew.relu(this); };
P.leakyRelu = function (s) { return ew.leakyRelu(this, s); };
P.abs = function () { return ew.abs(this); };
P.sum = function (a, k) { return rd.sum(this, a, k); };
P.mean = function (a, k) { return rd.mean(this, a, k); };
P.max = function (a, k) { return rd.max(this, a, k); };
P.reshape = function (s) { return sh.reshape(this, s); };
P.view = function (...s) { return sh.reshape(this, s); };
P.flatten = function (a, b) { return sh.flatten(this, a, b); };
P.permute = function (...d) { return sh.permute(this, d); };
P.transpose = function (a, b) { return sh.transpose(this, a, b); };
P.unsqueeze = function (d) { return sh.unsqueeze(this, d); };
P.squeeze = function (d) { return sh.squeeze(this, d); };
P.matmul = function (o) { return mm.matmul(this, o); };
P.detach = function () { return detach(this); };
P.backward = function (g) { backward(this, g); };
