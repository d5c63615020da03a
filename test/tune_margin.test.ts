// A tuned family of one's own (registerProbe), and its margin: the first
// candidate is kept unless another beats it by that fraction of its time.
import { beforeAll, expect, test } from 'vitest';
import { setup, sl } from './helpers.js';

beforeAll(setup);

const work = (n: number) => () => {
  const x = sl.full([n], 1);
  sl.mul(x, x).dispose();
  x.dispose();
};

test('a registered family is timed and selected; a margin keeps the first candidate against a near tie, not against a clear winner', async () => {
  const picked: Record<string, string> = {};
  const heavy = work(1 << 22), light = work(1 << 10);
  // tie: both candidates do the same work
  sl.registerProbe('test-tie', { variants: ['first', 'same'], margin: 0.25, run: heavy, select: (v) => (picked.tie = v) });
  // clear: the second does almost nothing
  sl.registerProbe('test-clear', { variants: ['first', 'less'], margin: 0.25, run: (v) => (v === 'first' ? heavy() : light()), select: (v) => (picked.clear = v) });
  const t = await sl.tune({ fresh: true });
  expect(t.timings['test-tie:first']).toBeGreaterThan(0);
  expect(t.timings['test-clear:less']).toBeLessThan(0.75 * t.timings['test-clear:first']);
  expect(t.chosen['test-tie']).toBe('first');
  expect(t.chosen['test-clear']).toBe('less');
  expect(picked).toEqual({ tie: 'first', clear: 'less' });
});
