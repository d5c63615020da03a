// A tuned family of one's own (registerProbe), and the margin a probe may
// ask for: the first candidate is kept unless another beats it by that
// fraction of its time.
import { beforeAll, expect, test } from 'vitest';
import { setup, sl } from './helpers.js';
import { pickVariant } from '../runtime/tune.js';

beforeAll(setup);

test('pickVariant: the fastest, or with a margin the first unless the fastest takes at most (1 − margin) of its time', () => {
  const ms = (t: Record<string, number>) => (v: string) => t[v];
  expect(pickVariant(['a', 'b', 'c'], ms({ a: 10, b: 9, c: 11 }))).toBe('b');
  expect(pickVariant(['a', 'b', 'c'], ms({ a: 10, b: 9, c: 11 }), 0.25)).toBe('a'); // 10 % faster: under the margin
  expect(pickVariant(['a', 'b'], ms({ a: 10, b: 7.5 }), 0.25)).toBe('b'); // exactly a quarter faster
  expect(pickVariant(['a', 'b'], ms({ a: 10, b: 7.6 }), 0.25)).toBe('a');
  expect(pickVariant(['a', 'b'], ms({ a: 10, b: 2 }), 0.25)).toBe('b');
  expect(pickVariant(['a', 'b'], ms({ a: 10, b: 12 }), 0.25)).toBe('a');
});

test('a registered family is timed, its choice selected and reported by tune(); a bad margin is refused', async () => {
  const picked: string[] = [];
  const work = (n: number) => {
    const x = sl.full([n], 1);
    sl.mul(x, x).dispose();
    x.dispose();
  };
  // the second candidate does a thousandth of the first's work: a clear winner, margin or not
  sl.registerProbe('test-clear', { variants: ['first', 'less'], margin: 0.25, run: (v) => work(v === 'first' ? 1 << 22 : 1 << 12), select: (v) => picked.push(v) });
  const t = await sl.tune({ fresh: true });
  expect(t.timings['test-clear:first']).toBeGreaterThan(0);
  expect(t.timings['test-clear:less']).toBeGreaterThan(0);
  expect(t.chosen['test-clear']).toBe('less');
  expect(picked.at(-1)).toBe('less');
  expect(() => sl.registerProbe('bad', { variants: ['a'], margin: 1, run: () => {}, select: () => {} })).toThrow(/margin must be in \[0, 1\)/);
  expect(() => sl.registerProbe('bad', { variants: [], run: () => {}, select: () => {} })).toThrow(/no variants/);
});
