// Recording: the engine reuses uniform buffers (keyed by their bytes) and bind groups
// (keyed by layout and the buffer ranges bound) across dispatches
// (runtime/bindings.ts). Reuse must never hand a dispatch another dispatch's
// parameters or buffers, and a uniform buffer evicted from the cache must not
// be rewritten while a recorded, not yet submitted dispatch still reads it.
// It opens the next command buffer when it submits one, and submits only
// what was recorded.
import { afterEach, beforeAll, expect, test } from 'vitest';
import { expectClose, f32, randArray, rng, setup, sl, T } from './helpers.js';

beforeAll(setup);

let saved: { uniforms: number; groups: number } | null = null;
afterEach(() => {
  if (saved) sl.getEngine().bindings.setCapacity(saved.uniforms, saved.groups);
  saved = null;
});

// in f32, as the kernel computes it, so the comparison can be exact
const leaky = (x: Float64Array, s: number) => x.map((v) => (v >= 0 ? v : Math.fround(Math.fround(s) * v)));

/** Record every op before reading any (one command buffer), then check all. */
async function recordThenCheck(n: number) {
  const r = rng(7);
  const xa = f32(randArray(n, r)), xb = f32(randArray(n, r));
  const a = T(xa, [n]), b = T(xb, [n]);
  const slopes = [0.1, 0.2, 0.3, 0.1, 0.25, 0.2];
  const outs: [sl.Tensor, Float64Array, string][] = [];
  for (const s of slopes) {
    outs.push([sl.leakyRelu(a, s), leaky(xa, s), `leakyRelu(a, ${s})`]);
    outs.push([sl.leakyRelu(b, s), leaky(xb, s), `leakyRelu(b, ${s})`]);
  }
  outs.push([sl.sub(a, b), xa.map((v, i) => Math.fround(v - xb[i])), 'a - b']);
  outs.push([sl.sub(b, a), xb.map((v, i) => Math.fround(v - xa[i])), 'b - a']);
  for (const [t, want, label] of outs) expectClose(await t.read(), want, { rtol: 0, atol: 0 }, label);
  for (const [t] of outs) t.dispose();
  a.dispose();
  b.dispose();
}

test('repeated dispatches reuse bind groups and uniform buffers, each with its own parameters and buffers', async () => {
  const e = sl.getEngine();
  await recordThenCheck(1001);
  await e.sync();
  const before = { ...e.bindings.stats };
  await recordThenCheck(1001);
  const hits = e.bindings.stats.groupHits - before.groupHits;
  const uniformHits = e.bindings.stats.uniformHits - before.uniformHits;
  // the second round binds the same pooled buffers with the same parameters
  expect(hits).toBeGreaterThan(0);
  expect(uniformHits).toBeGreaterThan(0);
});

test('a uniform buffer evicted while its dispatch is still unsubmitted keeps its contents', async () => {
  const e = sl.getEngine();
  saved = e.bindings.capacity;
  // one cached uniform buffer and bind group: every new parameter set evicts
  // the one a dispatch recorded just before still reads
  e.bindings.setCapacity(1, 1);
  await recordThenCheck(333);
  await recordThenCheck(4099);
});

test('a flush submits only what was recorded, in the command buffer opened at the last submit', async () => {
  const e = sl.getEngine();
  const x = T([1, -2, 3, -4], [4]);
  await e.sync();
  const before = e.stats.submits;
  await e.sync();
  await e.sync();
  expect(e.stats.submits, 'nothing recorded, nothing submitted').toBe(before);
  const y = sl.leakyRelu(x, 0.5);
  await e.sync();
  expect(e.stats.submits).toBe(before + 1);
  expect(Array.from(await y.read())).toEqual([1, -1, 3, -2]);
  // a copy alone (the read's) is recorded work too
  expect(Array.from(await x.read())).toEqual([1, -2, 3, -4]);
  x.dispose();
  y.dispose();
});

test('setSubmitEvery: recorded work is submitted every n dispatches, with the same results', async () => {
  const e = sl.getEngine();
  const before = sl.getSubmitEvery();
  const x = T([1, -2, 3, -4, 5], [5]);
  await e.sync();
  try {
    expect(() => sl.setSubmitEvery(0)).toThrow(/whole number/);
    sl.setSubmitEvery(2);
    const s0 = e.stats.submits;
    let y = x;
    const ys: sl.Tensor[] = [];
    for (let i = 0; i < 7; i++) ys.push((y = sl.leakyRelu(y, 0.5)));
    // 7 dispatches at 2 per submit: 3 submits before any wait
    expect(e.stats.submits - s0).toBe(3);
    // 0.5^7 on the negatives, exact in f32
    expect(Array.from(await y.read())).toEqual([1, -2 / 128, 3, -4 / 128, 5]);
    ys.forEach((t) => t.dispose());
  } finally {
    sl.setSubmitEvery(before);
    x.dispose();
  }
});
