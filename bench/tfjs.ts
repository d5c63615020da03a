// TensorFlow.js peers in the same process: the webgpu backend (its own
// adapter and device from Dawn, nothing shared with sleeve), wasm and cpu.
// tfjs works in NHWC with [kh, kw, in, out] filters: inputs are permuted once
// at upload (not timed) and samples are read through the same permutation.
import type { Engine, Prepared, Samples, Unsupported } from './engine.js';
import { permute, pick } from './data.js';
import { classifierLabels, type InputCache, type Workload } from './workloads.js';
import { sleepyWaiter } from '../runtime/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type TF = typeof import('@tensorflow/tfjs-core');
type Tn = import('@tensorflow/tfjs-core').Tensor;

const NHWC = [0, 2, 3, 1];
const FILTER = [2, 3, 1, 0]; // [out, in, kh, kw] → [kh, kw, in, out]; also a linear weight [out, C, H, W] → [H, W, C, out]

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Submit tfjs-webgpu's pending commands and wait for the queue; cpu/wasm run eagerly. */
// The same wait as sleeve's in Node (runtime/wait.ts): Dawn polls while a
// promise is pending, and a spinning main thread would take a core from a
// CPU driver's kernels, so every WebGPU engine is waited for alike. A page
// just awaits, as sleeve does there.
const waitDevice = typeof setImmediate === 'function' ? sleepyWaiter() : <T>(p: Promise<T>) => p;

async function syncBackend(tf: TF): Promise<void> {
  const b = tf.backend() as any;
  if (b?.device?.queue) {
    if (b.commandEncoder) {
      b.endComputePassEncoder?.();
      b.submitQueue();
    }
    await waitDevice(b.device.queue.onSubmittedWorkDone());
  }
}

function makeEngine(tf: TF, backend: string, notes: string[]): Engine {
  /** Upload an input, permuted (perm over `logical`, by default its own shape), stored as `shape`. */
  const up = (w: Workload, data: InputCache, name: string, perm?: number[], shape?: number[], logical?: number[]): Tn => {
    const spec = w.inputs[name];
    const ls = logical ?? spec.shape;
    const d = perm ? permute(data.get(name), ls, perm) : data.get(name);
    return tf.tensor(d, shape ?? (perm ? perm.map((p) => ls[p]) : spec.shape));
  };

  async function readSamples(w: Workload, outs: Record<string, Tn>, perms: Record<string, number[] | undefined>): Promise<Samples> {
    const s: Samples = {};
    for (const [name, spec] of Object.entries(w.samples)) {
      s[name] = pick(await outs[name].data(), spec.shape, spec.idx, perms[name]);
    }
    return s;
  }

  /** A kernel workload: f builds outputs (in a tidy), samples read through perms. */
  function kernel(w: Workload, f: () => Record<string, Tn>, held: Tn[], perms: Record<string, number[] | undefined>): Prepared {
    const dispose = (o: Record<string, Tn>) => Object.values(o).forEach((t) => t.dispose());
    return {
      async check() {
        const outs = tf.tidy(f);
        try {
          return await readSamples(w, outs, perms);
        } finally {
          dispose(outs);
        }
      },
      async run(reps = 1) {
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) dispose(tf.tidy(f));
        if (backend === 'webgpu') this.hostMs = (performance.now() - t0) / reps;
        await syncBackend(tf);
      },
      dispose() {
        held.forEach((t) => t.dispose());
      },
    };
  }

  function critic(w: Workload, data: InputCache): Prepared {
    const slope = w.cfg.slope as number, lambda = w.cfg.lambda as number;
    const real = up(w, data, 'real', NHWC), fake = up(w, data, 'fake', NHWC), eps = up(w, data, 'eps');
    const n = real.shape[0];
    const w1 = up(w, data, 'w1', FILTER), b1 = up(w, data, 'b1');
    const w2 = up(w, data, 'w2', FILTER), b2 = up(w, data, 'b2');
    // the linear weight [1, 128·25·25] seen as [1, C, H, W], reordered for an NHWC flatten
    const wl = up(w, data, 'wl', FILTER, [128 * 25 * 25, 1], [1, 128, 25, 25]), bl = up(w, data, 'bl');
    const params = [w1, b1, w2, b2, wl, bl];
    // tfjs's leakyRelu gradient goes through `greater`, which has no gradient, so
    // it cannot be differentiated twice; this form can (Abs → Step has one).
    const lrelu = (z: Tn) => tf.add(tf.mul(z, (1 + slope) / 2), tf.mul(tf.abs(z), (1 - slope) / 2));
    const D = (x: Tn, p: Tn[]): Tn => {
      let h = lrelu(tf.add(tf.conv2d(x as any, p[0] as any, 2, 2), p[1]));
      h = lrelu(tf.add(tf.conv2d(h as any, p[2] as any, 2, 2), p[3]));
      return tf.add(tf.matMul(tf.reshape(h, [n, -1]), p[4]), p[5]);
    };
    const xhat = tf.add(fake, tf.mul(eps, tf.sub(real, fake)));
    const loss = (...p: Tn[]): Tn => {
      const gx = tf.grad((x: Tn) => tf.sum(D(x, p)))(xhat);
      const norm = tf.sqrt(tf.sum(tf.square(tf.reshape(gx, [n, -1])), 1));
      const gp = tf.mean(tf.square(tf.sub(norm, 1)));
      return tf.add(tf.sub(tf.mean(D(fake, p)), tf.mean(D(real, p))), tf.mul(gp, lambda));
    };
    const step = () => tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads(loss as any)(params);
      return [value, ...grads];
    });
    const names = ['loss', 'w1', 'b1', 'w2', 'b2', 'wl', 'bl'];
    const perm: Record<string, number[] | undefined> = { g_w1: FILTER, g_w2: FILTER, g_wl: FILTER };
    return {
      async check() {
        const outs = step();
        try {
          const byName = Object.fromEntries(Object.keys(w.samples).map((s) => [s, outs[names.indexOf(s === 'loss' ? 'loss' : s.slice(2))]]));
          return await readSamples(w, byName, perm);
        } finally {
          outs.forEach((t) => t.dispose());
        }
      },
      async run(reps = 1) {
        for (let i = 0; i < reps; i++) step().forEach((t) => t.dispose());
        await syncBackend(tf);
      },
      dispose() {
        [real, fake, eps, xhat, ...params].forEach((t) => t.dispose());
      },
    };
  }

  function classifier(w: Workload, data: InputCache): Prepared {
    const slope = w.cfg.slope as number, bnEps = w.cfg.eps as number;
    const x = up(w, data, 'x', NHWC);
    const n = x.shape[0];
    const labels = tf.oneHot(tf.tensor1d(classifierLabels(n), 'int32'), 10);
    const v = (name: string, perm?: number[], shape?: number[], logical?: number[]) => {
      const t = up(w, data, name, perm, shape, logical);
      const r = tf.variable(t, true, `${name}_${Math.random().toString(36).slice(2)}`);
      t.dispose();
      return r;
    };
    const P: Record<string, any> = {};
    for (const i of [1, 2, 3]) {
      P[`w${i}`] = v(`w${i}`, FILTER);
      for (const k of ['b', 'g', 'be']) P[`${k}${i}`] = v(`${k}${i}`);
    }
    P.wl = v('wl', FILTER, [128 * 16 * 32, 10], [10, 128, 16, 32]);
    P.bl = v('bl');
    const vars = Object.values(P);
    const opt = tf.train.adam(w.cfg.lr as number, 0.9, 0.999, 1e-8);
    const forward = (): Tn => {
      let h: any = x;
      for (const i of [1, 2, 3]) {
        h = tf.fused.conv2d({ x: h, filter: P[`w${i}`], strides: 1, pad: 1, bias: P[`b${i}`] });
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        h = tf.batchNorm(h, mean, variance, P[`be${i}`], P[`g${i}`], bnEps);
        h = tf.maxPool(tf.leakyRelu(h, slope), 2, 2, 'valid');
      }
      const logits = tf.add(tf.matMul(tf.reshape(h, [n, -1]), P.wl), P.bl);
      return tf.losses.softmaxCrossEntropy(labels, logits);
    };
    const step = () => opt.minimize(forward as any, true, vars)!;
    return {
      async check() {
        const s: Samples = {};
        for (const name of ['loss1', 'loss2']) {
          const l = step();
          s[name] = [(await l.data())[0]];
          l.dispose();
        }
        return s;
      },
      async run(reps = 1) {
        for (let i = 0; i < reps; i++) step().dispose();
        await syncBackend(tf);
      },
      dispose() {
        opt.dispose();
        [x, labels, ...vars].forEach((t) => t.dispose());
      },
    };
  }

  async function prepare(w: Workload, data: InputCache): Promise<Prepared | Unsupported> {
    await tf.setBackend(backend);
    await tf.ready();
    switch (w.name.replace(/-b\d+$/, '')) {
      case 'matmul-512':
      case 'matmul-1024':
      case 'matmul-4096': {
        const a = up(w, data, 'a'), b = up(w, data, 'b');
        return kernel(w, () => ({ c: tf.matMul(a, b) }), [a, b], {});
      }
      case 'conv2d': {
        const x = up(w, data, 'x', NHWC), f = up(w, data, 'w', FILTER), b = up(w, data, 'b');
        return kernel(w, () => ({ y: tf.fused.conv2d({ x: x as any, filter: f as any, strides: 1, pad: 1, bias: b }) }), [x, f, b], { y: NHWC });
      }
      case 'conv-transpose': {
        // torch's [in, out, kh, kw] → tfjs's [kh, kw, out, in]
        const x = up(w, data, 'x', NHWC), f = up(w, data, 'w', FILTER), b = up(w, data, 'b');
        const y = () => ({ y: tf.add(tf.conv2dTranspose(x as any, f as any, [64, 50, 50, 64], 2, 2), b) });
        return kernel(w, y, [x, f, b], { y: NHWC });
      }
      case 'batchnorm2d': {
        // training-mode batchnorm as tfjs writes it: batch moments, then normalise
        const x = up(w, data, 'x', NHWC), g = up(w, data, 'weight'), b = up(w, data, 'bias');
        const f = () => {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return { y: tf.batchNorm(x, mean, variance, b, g, w.cfg.eps as number) };
        };
        return kernel(w, f, [x, g, b], { y: NHWC });
      }
      case 'maxpool2d': {
        const x = up(w, data, 'x', NHWC);
        return kernel(w, () => ({ y: tf.maxPool(x as any, 2, 2, 'valid') }), [x], { y: NHWC });
      }
      case 'rfft': {
        const x = up(w, data, 'x');
        const f = () => {
          const c = tf.spectral.rfft(x);
          return { re: tf.real(c), im: tf.imag(c) };
        };
        // the timed run keeps only the complex result
        const p = kernel(w, f, [x], {});
        return {
          check: p.check,
          dispose: p.dispose,
          async run(reps = 1) {
            for (let i = 0; i < reps; i++) tf.spectral.rfft(x).dispose();
            await syncBackend(tf);
          },
        };
      }
      case 'op-chain': {
        const h0 = up(w, data, 'h'), a = up(w, data, 'a'), b = up(w, data, 'b');
        const f = () => {
          let h = h0;
          for (let i = 0; i < (w.cfg.steps as number); i++) h = tf.add(tf.mul(h, a), b);
          return { y: h };
        };
        return kernel(w, f, [h0, a, b], {});
      }
      case 'generator-forward': {
        const slope = w.cfg.slope as number, eps = w.cfg.eps as number, n = w.cfg.batch as number;
        const z = up(w, data, 'z'), wl = up(w, data, 'wl'), bl = up(w, data, 'bl');
        // torch's convT [in, out, kh, kw] → tfjs's [kh, kw, out, in]
        const w2 = up(w, data, 'w2', FILTER), b2 = up(w, data, 'b2'), w3 = up(w, data, 'w3', FILTER), b3 = up(w, data, 'b3');
        const bnp = [1, 2].map((i) => ['g', 'be', 'rm', 'rv'].map((k) => up(w, data, `${k}${i}`)));
        const norm = (h: Tn, i: number) => {
          const [g, be, rm, rv] = bnp[i - 1];
          return tf.leakyRelu(tf.batchNorm(h, rm, rv, be, g, eps), slope);
        };
        const f = () => {
          let h = tf.transpose(tf.reshape(tf.add(tf.matMul(z, wl, false, true), bl), [n, 128, 25, 25]), NHWC);
          h = norm(h, 1);
          h = norm(tf.add(tf.conv2dTranspose(h as any, w2 as any, [n, 50, 50, 64], 2, 2), b2), 2);
          return { y: tf.tanh(tf.add(tf.conv2dTranspose(h as any, w3 as any, [n, 100, 100, 3], 2, 2), b3)) };
        };
        return kernel(w, f, [z, wl, bl, w2, b2, w3, b3, ...bnp.flat()], { y: NHWC });
      }
      case 'critic-gp-step':
        return critic(w, data);
      case 'classifier-step':
        return classifier(w, data);
      case 'features-30s':
        return { unsupported: 'not written for tfjs: it has no polyphase resampler (resample_poly), and tf.signal.stft on tfjs-webgpu is an O(N²) DFT' };
      case 'cover-30s':
        return { unsupported: 'not written for tfjs: the path starts with the features, which tfjs has no resampler for (see features-30s)' };
      default:
        return { unsupported: 'no tfjs implementation' };
    }
  }

  return { name: `tfjs-${backend}`, notes, prepare };
}

/** Load tfjs and the wanted backends; each one that fails is reported, not fatal. */
export async function tfjsEngines(backends: string[], wasmDir: string): Promise<{ engines: Engine[]; notes: string[] }> {
  const notes: string[] = [];
  if (!backends.length) return { engines: [], notes };
  let tf: TF;
  const quiet = console.warn;
  try {
    console.warn = () => {}; // tfjs-core's "install tfjs-node" banner
    tf = await import('@tensorflow/tfjs-core');
    // tfjs-core alone has no gradients; the union package registers them like this
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  } catch (e) {
    notes.push(`tfjs skipped: @tensorflow/tfjs-core is not installed or not loadable (${msg(e)})`);
    return { engines: [], notes };
  } finally {
    console.warn = quiet;
  }
  const engines: Engine[] = [];
  for (const b of backends) {
    try {
      if (b === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
      else if (b === 'wasm') {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(wasmDir.endsWith('/') ? wasmDir : wasmDir + '/');
      } else if (b === 'webgpu') {
        // tfjs-webgpu looks for navigator.gpu when it is imported; in Node it comes from Dawn
        if (!(globalThis as any).navigator?.gpu) {
          const { create, globals } = await import('webgpu');
          Object.assign(globalThis, globals);
          Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
        }
        await import('@tensorflow/tfjs-backend-webgpu');
      }
      if (!(await tf.setBackend(b))) throw new Error(`setBackend('${b}') failed`);
      await tf.ready();
      const be = tf.backend() as any;
      let line = `tfjs-${b} ${tf.version_core}`;
      if (b === 'webgpu' && be.adapterInfo) {
        const i = be.adapterInfo;
        line += ` on its own device: ${[i.vendor, i.architecture, i.description].filter(Boolean).join(' / ')}`;
      }
      if (b === 'wasm') {
        const threads = (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
        const where = typeof setImmediate === 'function'
          ? ': tfjs-wasm has no threads in Node'
          : `; the page is${(globalThis as any).crossOriginIsolated ? '' : ' not'} cross-origin isolated`;
        line += ` (${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}${where})`;
      }
      if (b === 'cpu') {
        line += ' (plain JS, 1 thread)';
        be.firstUse = false; // no "install tfjs-node" banner in the middle of the table
      }
      notes.push(line);
      const engine = makeEngine(tf, b, []);
      if (b === 'webgpu' && be.device) {
        // validation errors do not throw: collect them so a broken run is marked, not timed
        let devErr: string | null = null;
        be.device.addEventListener('uncapturederror', (ev: Event) => {
          devErr ??= String((ev as GPUUncapturedErrorEvent).error?.message ?? ev).split('\n')[0];
        });
        engine.takeError = () => {
          const e = devErr;
          devErr = null;
          return e;
        };
      }
      engines.push(engine);
    } catch (e) {
      notes.push(`tfjs-${b} skipped: ${msg(e)}`);
    }
  }
  return { engines, notes };
}
