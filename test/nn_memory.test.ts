// Memory: 500 training steps of a small conv net (conv → batchnorm → leaky
// relu → max-pool → linear, cross-entropy, Adam), each step inside tidy().
// The live buffer count must be the same at every 50th step. This file holds
// only this test: tensors another test forgot would be reclaimed by the
// garbage collector at a random moment and move the count.
import { beforeAll, expect, test } from 'vitest';
import { T, setup, sl } from './helpers.js';
import * as optim from '../runtime/optim/index.js';
import { crossEntropy } from '../runtime/ops/loss.js';

import { SmallNet } from './models.js';

beforeAll(setup);


test('500 training steps of a conv net keep the live buffer count flat', async () => {
  sl.manualSeed(21);
  const net = new SmallNet();
  const opt = new optim.Adam(net.parameters(), { lr: 3e-3 });
  const x = sl.randn([4, 1, 12, 12]);
  const labels = T([0, 2, 1, 2], [4]);
  const live: Record<number, number> = {};
  const losses: number[] = [];
  const first = sl.tidy(() => sl.noGrad(() => crossEntropy(net.call(x), labels)));
  const initial = await first.item();
  first.dispose();
  for (let step = 1; step <= 500; step++) {
    const loss = sl.tidy(() => {
      opt.zeroGrad();
      // a fresh, slightly noisy input each step: per-step uploads must be freed too
      const noisy = sl.add(x, sl.randn(x.shape, { std: 0.05 }));
      const l = crossEntropy(net.call(noisy), labels);
      sl.backward(l);
      opt.step();
      return l;
    });
    if (step % 50 === 0) {
      losses.push(await loss.item());
      live[step] = sl.memory().liveBuffers;
    }
    loss.dispose();
  }
  // Every checkpoint, not just the last: a leak the GC happens to collect by step 500 still shows.
  for (const step of Object.keys(live)) expect(live[+step], `live buffers at steps 50..500: ${JSON.stringify(live)}`).toBe(live[50]);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[losses.length - 1]).toBeLessThan(0.1 * initial); // it learned the batch
  opt.dispose();
  net.dispose();
});
