// Reductions over axes: sum, mean, max; sumTo undoes a broadcast.
import { record } from '../autograd.js';
import { grid1d, getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, Tensor, type Shape } from '../tensor.js';
import { checkRank, contiguousStrides, normAxis, pad8 } from './util.js';
import { broadcastTo, reshape } from './shape.js';
import { add, div, equal, maximum, mul } from './elementwise.js';
import { accumulate, rowRanges, rowsOf } from './split.js';

/** Minimum elements per workgroup in the chunked first stage. */
const CHUNK = 4096;

function axesOf(x: Tensor, axis: number | number[] | undefined, op: string): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(a, x.rank, op));
  return [...new Set(list)].sort((p, q) => p - q);
}

function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceRaw(op: 0 | 1, x: Tensor, axes: number[]): Tensor {
  checkRank(x.shape, 'reduce');
  if (x.size === 0 || x.rank === 0) return reduceRange(op, x.buffer, x.shape, axes);
  // Past the storage binding limit: reduce ranges of the first axis, then
  // combine (reduced over it) or place them (kept).
  const row = x.size / x.shape[0];
  const ranges = rowRanges(x.shape[0], [row], 'reduce', () => x.describe());
  if (ranges.length === 1) return reduceRange(op, x.buffer, x.shape, axes);
  const parts = ranges.map((r) => reduceRange(op, rowsOf(x, r, row), [r.count, ...x.shape.slice(1)], axes));
  if (axes.includes(0)) {
    return parts.reduce<Tensor | null>((acc, part) => accumulate(acc, part, op === 0 ? add : maximum), null)!;
  }
  const out = empty(keptShape(x, axes));
  const outRow = out.size / x.shape[0];
  ranges.forEach((r, i) => {
    getEngine().copy(parts[i].buffer, 0, out.buffer, 4 * r.start * outRow, 4 * r.count * outRow);
    parts[i].dispose();
  });
  return out;
}

/** Reduced axes that are neighbours in memory (axis a's stride is axis b's
 * extent times its stride: H and W of NCHW summed per channel) as one axis,
 * so the kernels walk one long contiguous inner axis and divide less. The
 * elements and their order are unchanged. */
export function mergeContiguous(shape: number[], strides: number[]): { shape: number[]; strides: number[] } {
  const outShape: number[] = [], outStrides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const last = outShape.length - 1;
    if (last >= 0 && outStrides[last] === shape[i] * strides[i]) {
      outShape[last] *= shape[i];
      outStrides[last] = strides[i];
    } else {
      outShape.push(shape[i]);
      outStrides.push(strides[i]);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Reduce x (of `shape`, bound whole or as a range) over axes, keeping them as size 1. */
function reduceRange(op: 0 | 1, x: GPUBuffer | GPUBufferBinding, shape: number[], axes: number[]): Tensor {
  const cs = contiguousStrides(shape);
  const outDims = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = outDims.map((i) => shape[i]);
  const redShape = axes.map((i) => shape[i]);
  const nOut = outShape.reduce((a, b) => a * b, 1);
  const nRed = redShape.reduce((a, b) => a * b, 1);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  if (nOut === 0) return empty(kept);
  const red = mergeContiguous(redShape, axes.map((i) => cs[i]));
  const uniforms = {
    n_out: nOut, n_red: nRed, out_rank: outShape.length, red_rank: red.shape.length,
    out_shape: pad8(outShape), out_strides: pad8(outDims.map((i) => cs[i])),
    red_shape: pad8(red.shape.length ? red.shape : [1]), red_strides: pad8(red.strides),
  };
  if (red.shape.length === 0) uniforms.red_rank = 1;
  const e = getEngine();
  // Few outputs over very many elements: split each into chunks so every
  // core gets work, then reduce the partials (a [nOut, chunks] tensor).
  const chunks = nOut < 64 && nRed >= 1 << 16 ? Math.min(Math.ceil(nRed / CHUNK), Math.ceil(256 / nOut)) : 1;
  if (chunks > 1) {
    const partial = empty([nOut, chunks]);
    e.dispatch(K.reduce, {
      entry: 'chunked', constants: { OP: op },
      buffers: { x, out: partial.buffer },
      uniforms: { ...uniforms, chunk_len: Math.ceil(nRed / chunks), n_chunks: chunks },
      workgroups: grid1d(nOut * chunks, 1),
    });
    const r = reduceRaw(op, partial, [1]);
    partial.dispose();
    const shaped = new Tensor(kept, r.storage.retain());
    r.dispose();
    return shaped;
  }
  const out = empty(kept);
  // Few outputs over many elements: a workgroup per output (one chunk).
  const wide = nRed >= 2048 && nOut <= 4096;
  e.dispatch(K.reduce, {
    entry: wide ? 'chunked' : 'main',
    constants: { OP: op },
    buffers: { x, out: out.buffer },
    uniforms: { ...uniforms, chunk_len: wide ? nRed : 0, n_chunks: wide ? 1 : 0 },
    workgroups: wide ? grid1d(nOut, 1) : gridStride(nOut),
  });
  return out;
}

/** The reduced values under the requested shape (same layout either way, so
 * dropping the kept axes is free and leaves no second handle on the buffer). */
function shaped(kept: Tensor, x: Tensor, axes: number[], keepDims: boolean): Tensor {
  if (keepDims) return kept;
  const out = new Tensor(x.shape.filter((_, i) => !axes.includes(i)), kept.storage.retain());
  kept.dispose();
  return out;
}

export function sum(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const axes = axesOf(x, axis, 'sum');
  const kshape = keptShape(x, axes);
  const out = shaped(reduceRaw(0, x, axes), x, axes, keepDims);
  return record(out, 'sum', [x], (g) => [broadcastTo(reshape(g, kshape), x.shape)]);
}

export function mean(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const axes = axesOf(x, axis, 'mean');
  const n = axes.reduce((a, i) => a * x.shape[i], 1);
  return mul(sum(x, axis, keepDims), 1 / n);
}

/** Max over axes; the gradient is shared equally among tied maxima. */
export function max(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  const axes = axesOf(x, axis, 'max');
  const kshape = keptShape(x, axes);
  const out = shaped(reduceRaw(1, x, axes), x, axes, keepDims);
  return record(out, 'max', [x], (g) => {
    const mask = equal(x, broadcastTo(reshape(out, kshape), x.shape));
    const count = reduceRaw(0, mask, axes);
    return [mul(broadcastTo(div(reshape(g, kshape), count), x.shape), mask)];
  });
}

/** Sum a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}
