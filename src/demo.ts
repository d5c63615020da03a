// `npm start`: a two-layer perceptron learns to tell a disc from the ring
// around it, trained on the GPU with sleeve's runtime. Plain SGD on gradients
// from grad(): a small end-to-end check that kernels, tape and engine work
// on this machine.
import * as sl from '../runtime/node.js';

const N = 256, HIDDEN = 16, STEPS = 400, LR = 0.5, LOG_EVERY = 40;

/** A seeded generator, so every run draws the same points. */
const rng = sl.hostRandom;

/** Half the points inside radius 0.5 (label +1), half on a ring 0.8–1.2 (label −1). */
function discAndRing(n: number, seed: number): { xs: Float32Array; ys: Float32Array } {
  const r = rng(seed);
  const xs = new Float32Array(n * 2), ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const inner = i % 2 === 0;
    const radius = inner ? 0.5 * Math.sqrt(r()) : 0.8 + 0.4 * r();
    const angle = 2 * Math.PI * r();
    xs[2 * i] = radius * Math.cos(angle);
    xs[2 * i + 1] = radius * Math.sin(angle);
    ys[i] = inner ? 1 : -1;
  }
  return { xs, ys };
}

function accuracy(pred: Float32Array, ys: Float32Array): number {
  let ok = 0;
  for (let i = 0; i < ys.length; i++) if (Math.sign(pred[i]) === ys[i]) ok++;
  return ok / ys.length;
}

async function main(): Promise<void> {
  await sl.init();
  const a = sl.adapterInfo();
  console.log(`adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`);

  const { xs, ys } = discAndRing(N, 1);
  const x = sl.tensor(xs, [N, 2]);
  const y = sl.tensor(ys, [N, 1]);

  sl.manualSeed(42);
  // Xavier-style scales keep tanh out of saturation at the start.
  let params = [
    sl.randn([HIDDEN, 2], { std: Math.sqrt(1 / 2) }),
    sl.zeros([HIDDEN]),
    sl.randn([1, HIDDEN], { std: Math.sqrt(1 / HIDDEN) }),
    sl.zeros([1]),
  ].map((p) => p.requiresGrad_());

  console.log(`training a 2→${HIDDEN}→1 tanh MLP on ${N} points (disc vs ring), SGD lr ${LR}`);
  let first = NaN, last = NaN;
  for (let step = 0; step <= STEPS; step++) {
    const [loss, pred, ...next] = sl.tidy(() => {
      const [w1, b1, w2, b2] = params;
      const out = sl.tanh(sl.linear(sl.tanh(sl.linear(x, w1, b1)), w2, b2));
      const l = sl.mean(sl.square(sl.sub(out, y)));
      const grads = sl.grad(l, params);
      const updated = sl.noGrad(() => params.map((p, i) => sl.sub(p, sl.mul(grads[i]!, LR))));
      return [l, out, ...updated.map((p) => p.requiresGrad_())];
    });
    for (const p of params) p.dispose();
    params = next;
    if (step % LOG_EVERY === 0) {
      const value = await loss.item();
      if (step === 0) first = value;
      last = value;
      const acc = accuracy(await pred.read(), ys);
      console.log(`step ${String(step).padStart(4)}  loss ${value.toFixed(5)}  accuracy ${(acc * 100).toFixed(1)}%`);
    }
    loss.dispose();
    pred.dispose();
  }
  console.log(`loss fell from ${first.toFixed(4)} to ${last.toFixed(4)}`);
  if (!(last < first)) throw new Error('sleeve demo: the loss did not fall');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
