// Seeded random tensors. Without an explicit seed, numbers come from a
// global generator that manualSeed() resets (like torch.manual_seed).
import { getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, type Shape, type Tensor } from '../tensor.js';
import { rowRanges, rowsOf } from './split.js';

let counter = 0x2545f491;

export function manualSeed(seed: number): void {
  counter = seed >>> 0;
}

/** Next seed from the global generator (splitmix-style step). */
export function nextSeed(): number {
  counter = (counter + 0x9e3779b9) >>> 0;
  let z = counter;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export function fillRandom(shape: Shape, dist: 0 | 1 | 2, lo: number, hi: number, seed?: number): Tensor {
  const out = empty(shape);
  if (out.size === 0) return out;
  const s = seed ?? nextSeed();
  // Past the storage binding limit: ranges of the flat tensor, each element
  // hashed by its index in the whole (the same numbers as one dispatch).
  for (const r of rowRanges(out.size, [1], 'rand', () => out.describe())) {
    getEngine().dispatch(K.fill, {
      constants: { DIST: dist },
      buffers: { out: rowsOf(out, r, 1) },
      uniforms: { n: r.count, seed: s, lo, hi, base: r.start },
      workgroups: gridStride(r.count),
    });
  }
  return out;
}

/** Uniform on [low, high). */
export function rand(shape: Shape, opts: { low?: number; high?: number; seed?: number } = {}): Tensor {
  return fillRandom(shape, 0, opts.low ?? 0, opts.high ?? 1, opts.seed);
}

/** Normal with the given mean and std. */
export function randn(shape: Shape, opts: { mean?: number; std?: number; seed?: number } = {}): Tensor {
  return fillRandom(shape, 1, opts.mean ?? 0, opts.std ?? 1, opts.seed);
}

/** A seeded host-side generator (Mulberry32) of floats in [0, 1), for data
 * that must be the same on every run: test inputs, demo points, sample picks. */
export function hostRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
