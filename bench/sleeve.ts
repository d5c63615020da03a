// sleeve on its own device. Ops are looked up by name on the public runtime
// entry first; ops whose module exists but is not exported yet come from
// 'sleeve:extras' (a virtual module bench/build.mjs assembles from the op
// files present), and a workload whose op exists nowhere is skipped.
import * as sl from '../runtime/node.js';
import * as extras from 'sleeve:extras';
import type { Engine, Prepared, Samples, Unsupported } from './engine.js';
import { pick } from './data.js';
import { featureImage, featureParams, featureTensors, type FeatureParams } from '../src/audio/features.js';
import { resampleTensor, setResampleVariant, type ResampleVariant } from '../src/audio/resample.js';
import { sliceImage } from '../src/audio/slices.js';
import { GenreClassifier } from '../src/models/classifier.js';
import { CoverGenerator } from '../src/models/generator.js';
import { genreProbabilities, mostProbable, paintCover } from '../src/cover.js';
import { classifierLabels, type InputCache, type Workload } from './workloads.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...a: any[]) => any;
type T = sl.Tensor;

const pub = sl as unknown as Record<string, unknown>;
const ext = extras as unknown as Record<string, unknown>;
/** Ops used that the public entry does not export (reported in the header). */
const unexported = new Set<string>();

function find(name: string): Fn | undefined {
  if (typeof pub[name] === 'function') return pub[name] as Fn;
  if (typeof ext[name] === 'function') {
    unexported.add(name);
    return ext[name] as Fn;
  }
  return undefined;
}

function findAdam(): (new (params: T[], opts: Record<string, unknown>) => { step(): void; zeroGrad(): void }) | undefined {
  const fromNs = (ns: unknown) => (ns && typeof ns === 'object' ? (ns as Record<string, unknown>).Adam : undefined);
  const a = fromNs(pub.optim) ?? pub.Adam;
  if (typeof a === 'function') return a as any;
  const b = fromNs(ext.optim);
  if (typeof b === 'function') {
    unexported.add('optim.Adam');
    return b as any;
  }
  return undefined;
}

/** Resolve the named ops or say which are missing. */
function ops(names: string[]): Record<string, Fn> | string {
  const out: Record<string, Fn> = {};
  const missing: string[] = [];
  for (const n of names) {
    const f = find(n);
    if (f) out[n] = f;
    else missing.push(n);
  }
  return missing.length ? `sleeve does not have ${missing.join(', ')} yet` : out;
}

const sync = () => sl.getEngine().sync();

/**
 * batchNorm2d's per-channel arguments, in whatever order the runtime declares
 * them (it moved from (x, weight, bias, mean, var) to torch's
 * (x, mean, var, weight, bias)): read from the parameter names.
 */
function batchNormCaller(fn: Fn): (x: T, a: { weight: T; bias: T; runningMean: T; runningVar: T }, opts: object) => T {
  const params = /^[^(]*\(([^)]*)\)/.exec(fn.toString())?.[1].split(',').map((p) => p.trim().split(/[\s=:]/)[0].replace(/\d+$/, '')) ?? []; // bundlers may suffix names
  const names = params.slice(1, 5);
  const known = ['weight', 'bias', 'runningMean', 'runningVar'];
  const order = names.length === 4 && names.every((n) => known.includes(n)) ? names : ['runningMean', 'runningVar', 'weight', 'bias'];
  return (x, a, opts) => fn(x, ...order.map((n) => a[n as keyof typeof a]), opts);
}

/** A kernel workload: f builds the outputs, read() samples them. */
function kernel(w: Workload, f: () => Record<string, T>, held: T[], read?: (outs: Record<string, T>) => Promise<Samples>): Prepared {
  const defaultRead = async (outs: Record<string, T>): Promise<Samples> => {
    const s: Samples = {};
    for (const [name, spec] of Object.entries(w.samples)) s[name] = pick(await outs[name].read(), spec.shape, spec.idx);
    return s;
  };
  const disposeAll = (outs: Record<string, T>) => new Set(Object.values(outs)).forEach((t) => t.dispose());
  return {
    async check() {
      const outs = sl.tidy(f);
      try {
        return await (read ?? defaultRead)(outs);
      } finally {
        disposeAll(outs);
      }
    },
    async run(reps = 1) {
      // Freed before the work is done: the pool keeps them until the submit.
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) disposeAll(sl.tidy(f));
      this.hostMs = (performance.now() - t0) / reps;
      await sync();
    },
    dispose() {
      held.forEach((t) => t.dispose());
    },
  };
}

function upload(w: Workload, data: InputCache, names: string[], grad = false): Record<string, T> {
  const out: Record<string, T> = {};
  for (const n of names) {
    out[n] = sl.tensor(data.get(n), w.inputs[n].shape);
    if (grad) out[n].requiresGrad_();
  }
  return out;
}

async function prepare(w: Workload, data: InputCache): Promise<Prepared | Unsupported> {
  switch (w.name.replace(/-b\d+$/, '')) {
    case 'matmul-512':
    case 'matmul-1024':
    case 'matmul-4096': {
      const { a, b } = upload(w, data, ['a', 'b']);
      return kernel(w, () => ({ c: sl.matmul(a, b) }), [a, b]);
    }
    case 'conv2d': {
      const o = ops(['conv2d']);
      if (typeof o === 'string') return { unsupported: o };
      const { x, w: wt, b } = upload(w, data, ['x', 'w', 'b']);
      return kernel(w, () => ({ y: o.conv2d(x, wt, b, { stride: 1, padding: 1 }) }), [x, wt, b]);
    }
    case 'conv-transpose': {
      const o = ops(['convTranspose2d']);
      if (typeof o === 'string') return { unsupported: o };
      const { x, w: wt, b } = upload(w, data, ['x', 'w', 'b']);
      return kernel(w, () => ({ y: o.convTranspose2d(x, wt, b, { stride: 2, padding: 2, outputPadding: 1 }) }), [x, wt, b]);
    }
    case 'batchnorm2d': {
      const o = ops(['batchNorm2d']);
      if (typeof o === 'string') return { unsupported: o };
      const t = upload(w, data, ['x', 'weight', 'bias', 'runningMean', 'runningVar']);
      const bn = batchNormCaller(o.batchNorm2d);
      const f = () => ({ y: bn(t.x, t as { weight: T; bias: T; runningMean: T; runningVar: T }, { training: true, momentum: 0.1, eps: 1e-5 }) });
      return kernel(w, f, Object.values(t));
    }
    case 'maxpool2d': {
      const o = ops(['maxPool2d']);
      if (typeof o === 'string') return { unsupported: o };
      const { x } = upload(w, data, ['x']);
      return kernel(w, () => ({ y: o.maxPool2d(x, 2, { stride: 2 }) }), [x]);
    }
    case 'rfft': {
      const o = ops(['rfft']);
      if (typeof o === 'string') return { unsupported: o };
      const { x } = upload(w, data, ['x']);
      // rfft: [..., N] → [..., N/2 + 1, 2] (re, im interleaved)
      const read = async (outs: Record<string, T>): Promise<Samples> => {
        const d = await outs.y.read();
        return {
          re: w.samples.re.idx.map((i) => d[2 * i]),
          im: w.samples.im.idx.map((i) => d[2 * i + 1]),
        };
      };
      return kernel(w, () => ({ y: o.rfft(x) }), [x], read);
    }
    case 'op-chain': {
      const t = upload(w, data, ['h', 'a', 'b']);
      const f = () => {
        let h = t.h;
        for (let i = 0; i < (w.cfg.steps as number); i++) h = sl.add(sl.mul(h, t.a), t.b);
        return { y: h };
      };
      return kernel(w, f, Object.values(t));
    }
    case 'generator-forward': {
      const o = ops(['batchNorm2d', 'convTranspose2d']);
      if (typeof o === 'string') return { unsupported: o };
      const t = upload(w, data, Object.keys(w.inputs));
      const bn = batchNormCaller(o.batchNorm2d);
      const slope = w.cfg.slope as number, eps = w.cfg.eps as number, n = w.cfg.batch as number;
      const up = { stride: 2, padding: 2, outputPadding: 1 };
      const norm = (h: T, i: number) => sl.leakyRelu(bn(h, { weight: t[`g${i}`], bias: t[`be${i}`], runningMean: t[`rm${i}`], runningVar: t[`rv${i}`] }, { training: false, eps }), slope);
      const f = () => {
        let h = sl.reshape(sl.linear(t.z, t.wl, t.bl), [n, 128, 25, 25]);
        h = norm(h, 1);
        h = norm(o.convTranspose2d(h, t.w2, t.b2, up), 2);
        return { y: sl.tanh(o.convTranspose2d(h, t.w3, t.b3, up)) };
      };
      return kernel(w, f, Object.values(t));
    }
    case 'critic-gp-step':
      return critic(w, data);
    case 'classifier-step':
      return classifier(w, data);
    case 'features-30s':
      return features(w, data);
    case 'cover-30s':
      return cover(w, data);
    default:
      return { unsupported: 'no sleeve implementation' };
  }
}

function critic(w: Workload, data: InputCache): Prepared | Unsupported {
  const o = ops(['conv2d']);
  if (typeof o === 'string') return { unsupported: o };
  const slope = w.cfg.slope as number, lambda = w.cfg.lambda as number;
  const { real, fake, eps } = upload(w, data, ['real', 'fake', 'eps']);
  const P = upload(w, data, ['w1', 'b1', 'w2', 'b2', 'wl', 'bl'], true);
  const params = [P.w1, P.b1, P.w2, P.b2, P.wl, P.bl];
  const conv = { stride: 2, padding: 2 };
  const D = (x: T): T => {
    let h = sl.leakyRelu(o.conv2d(x, P.w1, P.b1, conv), slope);
    h = sl.leakyRelu(o.conv2d(h, P.w2, P.b2, conv), slope);
    return sl.linear(sl.reshape(h, [h.shape[0], -1]), P.wl, P.bl);
  };
  const n = real.shape[0];
  const step = (): T[] =>
    sl.tidy(() => {
      // x̂ = fake + ε·(real − fake), a leaf
      const xhat = sl.noGrad(() => sl.add(fake, sl.mul(eps, sl.sub(real, fake)))).requiresGrad_();
      const [gx] = sl.grad(sl.sum(D(xhat)), [xhat], { createGraph: true }) as T[];
      const norm = sl.sqrt(sl.sum(sl.square(sl.reshape(gx, [n, -1])), 1));
      const gp = sl.mean(sl.square(sl.sub(norm, 1)));
      const loss = sl.add(sl.sub(sl.mean(D(fake)), sl.mean(D(real))), sl.mul(gp, lambda));
      const grads = sl.grad(loss, params) as T[];
      return [loss, ...grads];
    });
  const names = ['loss', 'w1', 'b1', 'w2', 'b2', 'wl', 'bl'];
  return {
    async check() {
      const outs = step();
      try {
        const s: Samples = {};
        for (const [name, spec] of Object.entries(w.samples)) {
          const t = outs[names.indexOf(name === 'loss' ? 'loss' : name.slice(2))];
          s[name] = pick(await t.read(), spec.shape, spec.idx);
        }
        return s;
      } finally {
        outs.forEach((t) => t.dispose());
      }
    },
    async run(reps = 1) {
      for (let i = 0; i < reps; i++) step().forEach((t) => t.dispose());
      await sync();
    },
    dispose() {
      [real, fake, eps, ...params].forEach((t) => t.dispose());
    },
  };
}

function classifier(w: Workload, data: InputCache): Prepared | Unsupported {
  const o = ops(['conv2d', 'batchNorm2d', 'maxPool2d', 'crossEntropy']);
  if (typeof o === 'string') return { unsupported: o };
  const Adam = findAdam();
  if (!Adam) return { unsupported: 'sleeve does not have optim.Adam yet' };
  const slope = w.cfg.slope as number;
  const { x } = upload(w, data, ['x']);
  const n = x.shape[0];
  const labels = sl.tensor(Float32Array.from(classifierLabels(n)), [n]);
  const pnames = ['w1', 'b1', 'g1', 'be1', 'w2', 'b2', 'g2', 'be2', 'w3', 'b3', 'g3', 'be3', 'wl', 'bl'];
  const P = upload(w, data, pnames, true);
  const R = upload(w, data, ['rm1', 'rv1', 'rm2', 'rv2', 'rm3', 'rv3']);
  const params = pnames.map((k) => P[k]);
  const opt = new Adam(params, { lr: w.cfg.lr as number, betas: [0.9, 0.999], eps: 1e-8 });
  const bnOpts = { training: true, momentum: w.cfg.momentum as number, eps: w.cfg.eps as number };
  const bn = batchNormCaller(o.batchNorm2d);
  const step = (): T => {
    const loss = sl.tidy(() => {
      let h = x;
      for (const i of [1, 2, 3]) {
        h = o.conv2d(h, P[`w${i}`], P[`b${i}`], { stride: 1, padding: 1 });
        h = bn(h, { weight: P[`g${i}`], bias: P[`be${i}`], runningMean: R[`rm${i}`], runningVar: R[`rv${i}`] }, bnOpts);
        h = o.maxPool2d(sl.leakyRelu(h, slope), 2, { stride: 2 });
      }
      const l: T = o.crossEntropy(sl.linear(sl.reshape(h, [n, -1]), P.wl, P.bl), labels);
      opt.zeroGrad();
      sl.backward(l);
      return l;
    });
    opt.step();
    return loss;
  };
  return {
    async check() {
      const s: Samples = {};
      for (const name of ['loss1', 'loss2']) {
        const l = step();
        s[name] = [(await l.read())[0]];
        l.dispose();
      }
      return s;
    },
    async run(reps = 1) {
      for (let i = 0; i < reps; i++) step().dispose();
      await sync();
    },
    dispose() {
      opt.zeroGrad();
      [x, labels, ...params, ...Object.values(R)].forEach((t) => t.dispose());
    },
  };
}

/** The workload's feature settings; everything else (Hann, centred, Slaney, lag 1, …) is the default. */
function featuresOf(c: Record<string, number>): FeatureParams {
  return featureParams({
    sampleRate: c.rate,
    resample: { zeroCrossings: c.zeroCrossings, kaiserBeta: c.kaiserBeta },
    stft: { nFft: c.nFft, hop: c.hop },
    mel: { nMels: c.nMels },
    db: { amin: c.amin, topDb: c.topDb },
    onset: { nMels: c.onsetMels },
    tempogram: { winLength: c.winLength },
    image: { nLags: c.nLags },
    slices: { width: c.sliceWidth ?? 258, hop: c.sliceWidth ?? 258 },
  });
}

/** src/cover.ts's path as makeCover runs it after decoding: the resampler
 * (where the tuner put it), features, slices and classifier on the GPU, the probabilities read back for
 * the genre, then the generator's cover read back. */
function cover(w: Workload, data: InputCache): Prepared {
  const c = w.cfg as Record<string, number>;
  const p = featuresOf(c);
  const classifier = new GenreClassifier(), generator = new CoverGenerator();
  for (const m of [classifier, generator]) {
    const own = Object.keys(m.stateDict());
    const t = upload(w, data, own);
    m.loadStateDict(t);
    Object.values(t).forEach((v) => v.dispose());
  }
  const x = data.get('x'), z = data.get('z');
  const step = async (): Promise<{ probs: Float32Array; cover: Float32Array }> => {
    const image = featureImage(x, p, c.rateIn);
    const slices = sliceImage(image, p.slices).tensor;
    image.dispose();
    const pt = genreProbabilities(classifier, slices);
    slices.dispose();
    const probs = await pt.read();
    pt.dispose();
    const painted = paintCover(generator, mostProbable(probs), z);
    const out = await painted.read();
    painted.dispose();
    return { probs, cover: out };
  };
  return {
    async check() {
      const r = await step();
      return { probs: [...r.probs], cover: pick(r.cover, w.samples.cover.shape, w.samples.cover.idx) };
    },
    async run(reps = 1) {
      for (let i = 0; i < reps; i++) await step();
    },
    dispose() {
      classifier.dispose();
      generator.dispose();
    },
  };
}

/** src/audio's pipeline as `sleeve features` runs it after decoding: the
 * resampler where the tuner put it (resampleTensor), every feature stage on
 * the GPU (nothing read back in the timed runs). */
function features(w: Workload, data: InputCache): Prepared {
  const c = w.cfg as Record<string, number>;
  const p = featuresOf(c);
  const x = data.get('x');
  const step = (): Record<string, T> =>
    sl.tidy(() => {
      const y = resampleTensor(x, c.rateIn, p.sampleRate, p.resample);
      return { y, ...featureTensors(y, p) };
    }) as unknown as Record<string, T>;
  const free = (t: Record<string, T>) => Object.values(t).forEach((v) => v.dispose());
  return {
    async check() {
      const t = step();
      try {
        const s: Samples = {};
        for (const [name, spec] of Object.entries(w.samples)) s[name] = pick(await t[name].read(), spec.shape, spec.idx);
        return s;
      } finally {
        free(t);
      }
    },
    async run(reps = 1) {
      for (let i = 0; i < reps; i++) free(step());
      await sync();
    },
    dispose() {},
  };
}

/** `force`: kernel variants to use instead of the tuner's, e.g. { matmul: 'tiled' }. */
export async function sleeveEngine(force: Record<string, string> = {}): Promise<Engine & { adapter: sl.AdapterReport; tune: unknown }> {
  await sl.init({ tune: false });
  const adapter = sl.adapterInfo();
  const tuneFn = find('tune');
  // measured afresh: a benchmark reports the choice this run made
  const tune = tuneFn ? await tuneFn({ fresh: true }) : null;
  const notes: string[] = [];
  if (tune) notes.push(`sleeve autotune: ${JSON.stringify(tune)}`);
  const families: Record<string, { values: string[]; set: (v: string) => void }> = {
    matmul: { values: ['blocked', 'tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'], set: (v) => sl.setMatmulVariant(v as sl.MatmulVariant) },
    conv: { values: ['plain', 'subgroup', 'subgroup16', 'rows16'], set: (v) => sl.setConvVariant(v as sl.ConvVariant) },
    'conv-grad': { values: ['direct', 'direct16', 'rows', 'tiled'], set: (v) => sl.setConvGradVariant(v as sl.ConvGradVariant) },
    grid: { values: ['lane', 'stride4', 'stride16'], set: (v) => sl.setGridVariant(v as sl.GridVariant) },
    // not a kernel family of the runtime: where src/audio resamples (features-30s, cover-30s)
    resample: { values: ['device', 'host'], set: (v) => setResampleVariant(v as ResampleVariant) },
    // not a kernel: how many dispatches are recorded before a submit
    submit: { values: ['16', '32', '64', '128', '256', '512'], set: (v) => sl.setSubmitEvery(Number(v)) },
  };
  for (const [k, v] of Object.entries(force)) {
    const f = families[k];
    if (!f) throw new Error(`bench: --variant: no kernel family '${k}' (have ${Object.keys(families).join(', ')})`);
    if (!f.values.includes(v)) throw new Error(`bench: --variant: ${k} is one of ${f.values.join(', ')}, not '${v}'`);
    if ((v.startsWith('subgroup') || v === 'rows16') && !sl.hasSubgroups(8)) throw new Error(`bench: --variant ${k}=${v}: this device has no subgroups of ≥ 8 lanes`);
    f.set(v);
    notes.push(`sleeve variant forced: ${k}=${v} (not the tuner's choice)`);
  }
  return {
    name: 'sleeve',
    notes,
    adapter,
    tune,
    prepare,
    profile: (fn) => sl.profile(fn),
    async tuneShapes(fn) {
      const sites = await sl.tuneShapes(fn);
      const count = new Map<string, number>();
      for (const s of sites) count.set(`${s.family}: ${s.chosen}`, (count.get(`${s.family}: ${s.chosen}`) ?? 0) + 1);
      const chosen = [...count].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ');
      return { sites: sites.length, measured: sites.filter((s) => Object.keys(s.timings).length).length, chosen };
    },
    async close() {
      if (unexported.size) notes.push(`sleeve ops used that runtime/index.ts does not export yet: ${[...unexported].join(', ')}`);
    },
  };
}

/** Ops taken from module files rather than the public entry (for the report). */
export const unexportedOps = (): string[] => [...unexported];
