// runtime/wait.ts: the Node waiter sleeps between the event-loop turns in
// which Dawn polls, instead of letting them spin for the whole wait. Dawn's
// polling is stood in for by an immediate that re-arms itself (as Dawn's does
// while a promise is pending); the number of turns it gets is the measure.
import { expect, test } from 'vitest';
import { sleepyWaiter, type Waiter } from '../runtime/wait.js';

/** Turns of a self-re-arming immediate while `wait` awaits a promise settled after ms. */
async function pollsDuring(wait: Waiter, ms: number): Promise<number> {
  let polls = 0, on = true;
  const poll = () => { polls++; if (on) setImmediate(poll); };
  setImmediate(poll);
  await wait(new Promise((resolve) => setTimeout(resolve, ms)));
  on = false;
  return polls;
}

test('the sleepy waiter gives the value or the error of the promise it waits on', async () => {
  const w = sleepyWaiter();
  expect(await w(Promise.resolve(7))).toBe(7);
  expect(await w(new Promise((r) => setTimeout(() => r('late'), 30)))).toBe('late');
  await expect(w(new Promise((_, no) => setTimeout(() => no(new Error('lost')), 30)))).rejects.toThrow('lost');
});

test('while it waits, the event loop turns far less often than under a plain await', async () => {
  const plain = await pollsDuring((p) => p, 150);
  const sleepy = await pollsDuring(sleepyWaiter(), 150);
  // a plain await lets the poller spin the whole 150 ms; the sleepy waiter
  // spins only its first millisecond, then sleeps up to 2 % of the time waited
  expect(plain).toBeGreaterThan(1000);
  expect(sleepy * 5).toBeLessThan(plain);
});
