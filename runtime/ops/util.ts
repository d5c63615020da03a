// Shape helpers shared by the ops.
import type { Shape } from '../tensor.js';

export const MAX_RANK = 8;

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`sleeve: ${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` read as if broadcast to `out` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const cs = contiguousStrides(shape);
  const off = out.length - shape.length;
  return out.map((_, d) => {
    const sd = d - off;
    if (sd < 0 || shape[sd] === 1) return 0;
    return cs[sd];
  });
}

export function checkRank(shape: Shape, op: string): void {
  if (shape.length > MAX_RANK) throw new Error(`sleeve: ${op}: rank ${shape.length} exceeds ${MAX_RANK}`);
}

export function pad8(v: number[]): number[] {
  const out = v.slice();
  while (out.length < MAX_RANK) out.push(0);
  return out;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`sleeve: ${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}
