// Reshape (free: shares the buffer), and the copies made by one strided
// gather kernel: permute, broadcast, slice, pad; concat on top of them.
import { record } from '../autograd.js';
import { empty, sizeOf, view, type Shape, type Tensor } from '../tensor.js';
import { broadcastShapes, broadcastStrides, checkRank, contiguousStrides, normAxis, pad8 } from './util.js';
import { sumTo } from './reduce.js';
import { add } from './elementwise.js';
import { gather } from './strided.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  if (s.filter((d) => d === -1).length > 1) throw new Error(`sleeve: reshape: only one -1 allowed, got [${shape.join(', ')}] for ${x.describe()}`);
  const hole = s.indexOf(-1);
  if (hole >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== hole));
    s[hole] = rest === 0 ? 0 : x.size / rest;
  }
  if (sizeOf(s) !== x.size || !Number.isInteger(s[hole] ?? 0)) {
    throw new Error(`sleeve: reshape: cannot view ${x.describe()} as [${shape.join(', ')}]`);
  }
  const out = view(x, s);
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

/** torch.flatten: merge axes startDim..endDim (default all: a 1-D result). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const a = normAxis(startDim, x.rank, 'flatten');
  const b = normAxis(endDim, x.rank, 'flatten');
  if (b < a) throw new Error(`sleeve: flatten: startDim ${startDim} is after endDim ${endDim} for ${x.describe()}`);
  const merged = x.shape.slice(a, b + 1).reduce((p, q) => p * q, 1);
  return reshape(x, [...x.shape.slice(0, a), merged, ...x.shape.slice(b + 1)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = dim < 0 ? dim + x.rank + 1 : dim;
  if (!Number.isInteger(d) || d < 0 || d > x.rank) throw new Error(`sleeve: unsqueeze: dim ${dim} out of range for ${x.describe()}`);
  const s = x.shape.slice();
  s.splice(d, 0, 1);
  return reshape(x, s);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis(dim, x.rank, 'squeeze');
  if (x.shape[d] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

export function permute(x: Tensor, dims: number[]): Tensor {
  if (dims.length !== x.rank || new Set(dims.map((d) => normAxis(d, x.rank, 'permute'))).size !== x.rank) {
    throw new Error(`sleeve: permute: [${dims.join(', ')}] is not a permutation of ${x.rank} axes of ${x.describe()}`);
  }
  const ds = dims.map((d) => normAxis(d, x.rank, 'permute'));
  const cs = contiguousStrides(x.shape);
  const out = gather(x, { outShape: ds.map((d) => x.shape[d]), strides: ds.map((d) => cs[d]), offset: 0 });
  const inv = new Array(ds.length);
  ds.forEach((d, i) => (inv[d] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inv)]);
}

export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const a = normAxis(d0, x.rank, 'transpose');
  const b = normAxis(d1, x.rank, 'transpose');
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const target = broadcastShapes(x.shape, shape, 'broadcastTo');
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new Error(`sleeve: broadcastTo: ${x.describe()} cannot broadcast to [${shape.join(', ')}]`);
  }
  const out = gather(x, { outShape: target, strides: broadcastStrides(x.shape, target), offset: 0 });
  return record(out, 'broadcastTo', [x], (g) => [sumTo(g, x.shape)]);
}

/** x[start[d] : start[d] + size[d]] along every axis. */
export function slice(x: Tensor, start: number[], size: number[]): Tensor {
  if (start.length !== x.rank || size.length !== x.rank) throw new Error(`sleeve: slice: start/size must have ${x.rank} entries for ${x.describe()}`);
  const sz = size.map((s, d) => (s < 0 ? x.shape[d] - start[d] : s));
  sz.forEach((s, d) => {
    if (start[d] < 0 || start[d] + s > x.shape[d]) throw new Error(`sleeve: slice: [${start[d]}, ${start[d] + s}) outside axis ${d} of ${x.describe()}`);
  });
  const cs = contiguousStrides(x.shape);
  const offset = start.reduce((acc, s, d) => acc + s * cs[d], 0);
  const out = gather(x, { outShape: sz, strides: cs, offset });
  return record(out, 'slice', [x], (g) => [pad(g, start.map((s, d) => [s, x.shape[d] - s - sz[d]] as [number, number]))]);
}

/** Constant padding: pads[d] = [before, after] for every axis. */
export function pad(x: Tensor, pads: [number, number][], value = 0): Tensor {
  if (pads.length !== x.rank) throw new Error(`sleeve: pad: need [before, after] for each of ${x.rank} axes of ${x.describe()}`);
  const outShape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const out = gather(x, {
    outShape, strides: contiguousStrides(x.shape), offset: 0,
    lo: pads.map((p) => p[0]), extent: x.shape, padValue: value,
  });
  return record(out, 'pad', [x], (g) => [slice(g, pads.map((p) => p[0]), x.shape)]);
}

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (!xs.length) throw new Error('sleeve: concat: no tensors');
  const a = normAxis(axis, xs[0].rank, 'concat');
  for (const x of xs) {
    if (x.rank !== xs[0].rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`sleeve: concat: ${x.describe()} does not match ${xs[0].describe()} off axis ${a}`);
    }
  }
  const total = xs.reduce((s, x) => s + x.shape[a], 0);
  // Each piece padded to full length along the axis, then summed: every op
  // here is differentiable, so concat needs no rule of its own.
  let acc: Tensor | null = null;
  let at = 0;
  for (const x of xs) {
    const pads = x.shape.map((_, d) => (d === a ? [at, total - at - x.shape[a]] : [0, 0]) as [number, number]);
    const p = pad(x, pads);
    acc = acc ? add(acc, p) : p;
    at += x.shape[a];
  }
  return acc!;
}
