// Tensors larger than one storage binding (maxStorageBufferBindingSize:
// 128 MiB on lavapipe, and the default in browsers) are worked on in ranges
// of rows: each dispatch binds a byte range of every large operand, so
// nothing is copied. Range offsets must be multiples of the device's
// minStorageBufferOffsetAlignment, which fixes the row step.
import { getEngine } from '../engine.js';
import type { Tensor } from '../tensor.js';

/** Rows [start, start + count). */
export interface RowRange {
  start: number;
  count: number;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** Largest byte range one binding may cover (lowered by tests through engine.bindingCap). */
export function bindingLimit(): number {
  return getEngine().maxBinding;
}

/**
 * Cut `rows` rows into ranges in which every operand fits one binding.
 * rowFloats[i]: floats per row of operand i (0 for operands bound whole).
 * One range when everything fits. Every range but the last is a whole
 * number of steps, the step being the fewest rows that keep each operand's
 * byte offset aligned.
 */
export function rowRanges(rows: number, rowFloats: number[], op: string, what: () => string): RowRange[] {
  const limit = bindingLimit();
  const widest = 4 * Math.max(...rowFloats);
  if (rows * widest <= limit) return [{ start: 0, count: rows }];
  const align = getEngine().device.limits.minStorageBufferOffsetAlignment;
  let step = 1;
  for (const f of rowFloats) {
    if (f === 0) continue;
    const need = align / gcd(4 * f, align); // rows per aligned offset for this operand
    step = (step / gcd(step, need)) * need;
  }
  const perRange = Math.floor(limit / widest / step) * step;
  if (perRange === 0) {
    throw new Error(`sleeve: ${op}: ${what()} exceeds the ${limit}-byte storage binding limit, and ${step} of its rows (the fewest that start on a ${align}-byte aligned offset) do not fit one binding`);
  }
  const out: RowRange[] = [];
  for (let start = 0; start < rows; start += perRange) out.push({ start, count: Math.min(perRange, rows - start) });
  return out;
}

/** Rows of t as a binding: rowFloats floats per row. */
export function rowsOf(t: Tensor, r: RowRange, rowFloats: number): GPUBufferBinding {
  return { buffer: t.buffer, offset: 4 * r.start * rowFloats, size: 4 * r.count * rowFloats };
}

/** Partial results combined as they come: f(acc, part) with both freed; the
 * first part (acc null) is taken as it is. */
export function accumulate(acc: Tensor | null, part: Tensor, f: (a: Tensor, b: Tensor) => Tensor): Tensor {
  if (!acc) return part;
  const next = f(acc, part);
  acc.dispose();
  part.dispose();
  return next;
}
