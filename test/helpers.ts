// Shared test machinery: one device, NaN-poisoned buffers, deterministic
// random data, f64 comparisons and central finite differences.
import { expect, vi } from 'vitest';
import * as sl from '../runtime/node.js';

export { sl };

let ready: Promise<void> | null = null;

/** Initialise the runtime once per test file, with NaN poisoning on. */
export function setup(): Promise<void> {
  ready ??= (async () => {
    await sl.init();
    sl.getEngine().pool.poison = true;
  })();
  return ready;
}

/** Seeded, reproducible host random numbers. */
export const rng = sl.hostRandom;

export function randArray(n: number, r: () => number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Upload f64 data (rounded to f32) as a tensor. */
export function T(data: ArrayLike<number>, shape: number[], requiresGrad = false): sl.Tensor {
  const t = sl.tensor(Float32Array.from(data as ArrayLike<number>), shape);
  if (requiresGrad) t.requiresGrad_();
  return t;
}

/** Data as the GPU sees it (f32-rounded), back in f64 for the reference. */
export function f32(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(a as ArrayLike<number>));
}

export interface Tol {
  rtol?: number;
  atol?: number;
}

/** |a - e| <= atol + rtol·|e| everywhere; NaN anywhere it is not expected fails. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, label = ''): void {
  const rtol = tol.rtol ?? 1e-5, atol = tol.atol ?? 1e-6;
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e)) {
      if (!Number.isNaN(a)) { worst = i; worstErr = Infinity; break; }
      continue;
    }
    if (!Number.isFinite(e) && a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0)) {
      if (Number.isNaN(a)) { worst = i; worstErr = Infinity; break; }
      if (err > worstErr || worst < 0) { worst = i; worstErr = err; }
    }
  }
  if (worst >= 0) {
    expect.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/**
 * Central finite differences of a scalar f64 function f at x, in place on a
 * copy of x: df/dx_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h.
 */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const v = xp[i];
    xp[i] = v + h;
    const fp = f(xp);
    xp[i] = v - h;
    const fm = f(xp);
    xp[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Σ w·y: turns a tensor output into a scalar with a generic gradient. */
export function dot(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}

/**
 * Check the GPU gradient of every input of an op against central finite
 * differences of its f64 reference. `gpu` builds the op from tensors, `ref`
 * computes the same op in f64; the loss is Σ w·op(inputs) with random w.
 */
export async function checkGrads(
  gpu: (xs: sl.Tensor[]) => sl.Tensor,
  ref: (xs: Float64Array[]) => ArrayLike<number>,
  inputs: { data: Float64Array; shape: number[] }[],
  tol: Tol & { seed?: number; h?: number } = {},
  label = 'grad',
): Promise<void> {
  const r = rng(tol.seed ?? 7);
  const xs = inputs.map((i) => f32(i.data));
  const y0 = ref(xs);
  const w = f32(randArray(y0.length, r));
  const ts = inputs.map((inp, k) => T(xs[k], inp.shape, true));
  const out = gpu(ts);
  const loss = sl.sum(sl.mul(out, T(w, out.shape)));
  const grads = sl.grad(loss, ts);
  for (let k = 0; k < xs.length; k++) {
    const fd = finiteDiff((xk) => dot(ref(xs.map((x, j) => (j === k ? xk : x))), w), xs[k], tol.h ?? 1e-6);
    expectClose(await grads[k]!.read(), fd, { rtol: tol.rtol ?? 1e-3, atol: tol.atol ?? 1e-3 }, `${label} input ${k}`);
  }
}

/** Run a subcommand's function with its arguments, capturing what it prints. */
export async function runCommand(command: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await command(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
