// Small helpers the layers need that are not ops of their own.
import { Tensor, tensor } from '../tensor.js';
import { equal } from '../ops/elementwise.js';
import { unsqueeze } from '../ops/shape.js';

/**
 * One-hot rows: out[..., j] = 1 where indices[...] == j, for j < n
 * (torch.nn.functional.one_hot, as f32). Indices are integers stored as f32
 * (a Tensor, computed by an equality against 0..n-1 on the GPU; an index
 * outside [0, n) gives a zero row there) or a host array (checked here).
 * No gradient flows to the indices.
 */
export function oneHot(indices: Tensor | ArrayLike<number>, n: number): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new Error(`sleeve: oneHot: number of classes must be a positive integer, got ${n}`);
  if (indices instanceof Tensor) {
    const classes = tensor(Float32Array.from({ length: n }, (_, j) => j), [n]);
    return equal(unsqueeze(indices, -1), classes);
  }
  const out = new Float32Array(indices.length * n);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new Error(`sleeve: oneHot: index ${k} at position ${i} is outside [0, ${n})`);
    out[i * n + k] = 1;
  }
  return tensor(out, [indices.length, n]);
}
