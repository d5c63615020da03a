// The WGAN-GP gradient penalty: ‖∇ₓD(x̂)‖ differentiated again with respect
// to every critic weight (grad-of-grad through conv2d, leaky-ReLU, linear).
// Checked against PyTorch (fixtures/gp_critic.json, float64, written by
// fixtures/make_gp_fixture.py) and against central finite differences of an
// f64 reference of the whole penalty.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectClose, finiteDiff, setup, sl, T } from './helpers.js';
import * as cref from './ref/conv.js';

interface Fixture {
  shapes: Record<string, number[]>;
  x_shape: number[];
  params: Record<string, number[]>;
  xhat: number[];
  d: number[];
  grad_x: number[];
  penalty: number;
  unused: string[];
  grad_params: Record<string, number[]>;
}

const fx: Fixture = JSON.parse(readFileSync(new URL('./fixtures/gp_critic.json', import.meta.url), 'utf8'));
const NAMES = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'];
const C1 = { stride: 2, padding: 1 };
const C2 = { stride: 1, padding: 1 };
const SLOPE = 0.2;

function critic(x: sl.Tensor, p: Record<string, sl.Tensor>): sl.Tensor {
  let h = sl.leakyRelu(sl.conv2d(x, p.w1, p.b1, C1), SLOPE);
  h = sl.leakyRelu(sl.conv2d(h, p.w2, p.b2, C2), SLOPE);
  return sl.linear(sl.flatten(h, 1), p.w3, p.b3);
}

/** The same penalty in f64: forward, the analytic input gradient, the norm. */
function refPenalty(P: Record<string, Float64Array>, x: Float64Array): { d: Float64Array; gx: Float64Array; penalty: number } {
  const [N] = fx.x_shape;
  const g1 = cref.convGeo(fx.x_shape, fx.shapes.w1, C1);
  const h1 = cref.conv(x, P.w1, P.b1, g1);
  const a1 = cref.leakyRelu(h1, SLOPE);
  const g2 = cref.convGeo(cref.yShape(g1), fx.shapes.w2, C2);
  const h2 = cref.conv(a1, P.w2, P.b2, g2);
  const a2 = cref.leakyRelu(h2, SLOPE);
  const F = a2.length / N;
  const d = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let s = P.b3[0];
    for (let f = 0; f < F; f++) s += a2[n * F + f] * P.w3[f];
    d[n] = s;
  }
  // ∂(Σ d)/∂x back through the layers
  const ga2 = new Float64Array(a2.length);
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) ga2[n * F + f] = P.w3[f];
  const s2 = cref.leakySlope(h2, SLOPE);
  const gh2 = ga2.map((v, i) => v * s2[i]);
  const ga1 = cref.convData(gh2, P.w2, null, g2);
  const s1 = cref.leakySlope(h1, SLOPE);
  const gh1 = ga1.map((v, i) => v * s1[i]);
  const gx = cref.convData(gh1, P.w1, null, g1);
  const per = gx.length / N;
  let penalty = 0;
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let i = 0; i < per; i++) ss += gx[n * per + i] ** 2;
    penalty += (Math.sqrt(ss) - 1) ** 2;
  }
  return { d, gx, penalty: penalty / N };
}

beforeAll(setup);

describe('WGAN-GP penalty through a conv critic', () => {
  let gpu: { d: Float32Array; gx: Float32Array; penalty: number; grads: (Float32Array | null)[] };

  beforeAll(async () => {
    const p: Record<string, sl.Tensor> = {};
    for (const k of NAMES) p[k] = T(fx.params[k], fx.shapes[k], true);
    const xhat = T(fx.xhat, fx.x_shape, true);
    const d = critic(xhat, p);
    const [gx] = sl.grad(sl.sum(d), [xhat], { createGraph: true });
    const norms = sl.sqrt(sl.sum(sl.square(sl.flatten(gx!, 1)), 1));
    const penalty = sl.mean(sl.square(sl.sub(norms, 1)));
    const grads = sl.grad(penalty, NAMES.map((k) => p[k]), { allowUnused: true });
    gpu = {
      d: await d.read(), gx: await gx!.read(), penalty: await penalty.item(),
      grads: await Promise.all(grads.map((g) => (g ? g.read() : Promise.resolve(null)))),
    };
  });

  test('critic output and ∇ₓD match PyTorch', () => {
    // f32 forward of a 3-layer net: ~1e-6 relative
    expectClose(gpu.d, fx.d, { rtol: 1e-5, atol: 1e-6 }, 'D(x̂)');
    expectClose(gpu.gx, fx.grad_x, { rtol: 1e-4, atol: 1e-6 }, '∇ₓD');
  });

  test('penalty and its gradient w.r.t. every weight match PyTorch', () => {
    expect(Math.abs(gpu.penalty - fx.penalty)).toBeLessThan(1e-5 * Math.max(1, fx.penalty));
    NAMES.forEach((k, i) => {
      if (fx.unused.includes(k)) {
        // the last bias never reaches ∇ₓD: no path, no gradient (as in torch)
        expect(gpu.grads[i], k).toBeNull();
        return;
      }
      if (gpu.grads[i] === null) {
        // The hidden biases reach ∇ₓD only through leaky-ReLU's slope mask,
        // whose derivative is zero: torch keeps the edge and returns zeros,
        // the runtime records no edge and returns null. Same gradient.
        expect(fx.grad_params[k].every((v) => v === 0), `${k}: null here, nonzero in torch`).toBe(true);
        return;
      }
      expectClose(gpu.grads[i]!, fx.grad_params[k], { rtol: 1e-3, atol: 2e-6 }, `∂penalty/∂${k}`);
    });
  });

  test('penalty gradients match central finite differences of the f64 reference', () => {
    const P: Record<string, Float64Array> = {};
    for (const k of NAMES) P[k] = Float64Array.from(fx.params[k]);
    const x = Float64Array.from(fx.xhat);
    const ref0 = refPenalty(P, x);
    expect(Math.abs(ref0.penalty - fx.penalty)).toBeLessThan(1e-12);
    NAMES.forEach((k, i) => {
      if (fx.unused.includes(k)) return;
      const fd = finiteDiff((v) => refPenalty({ ...P, [k]: v }, x).penalty, P[k], 1e-6);
      expectClose(gpu.grads[i] ?? new Float32Array(fd.length), fd, { rtol: 1e-3, atol: 5e-6 }, `finite differences ∂penalty/∂${k}`);
    });
  });
});
