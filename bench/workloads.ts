// The bench's workloads: shapes from sleeve's own models, the inputs every
// engine builds from the same seeds (bench/data.ts), the positions sampled
// from each output, and an f64 reference at those positions. Training steps
// have no f64 reference here: their samples are compared across engines
// (PyTorch first) in run.ts.
import { gen, music, prod, sampleIndices, unflat } from './data.js';
import { featuresRef, type FeatureCfg } from './features_ref.js';

export interface InputSpec {
  shape: number[];
  seed: number;
  /** Values uniform in [-scale, scale) ('sym') or [0, 1) ('unit'), or a constant. */
  scale?: number;
  kind?: 'sym' | 'unit';
  fill?: number;
  /** Instead: bench/data.ts's music() at this sample rate (seed as above). */
  synth?: { kind: 'music'; rate: number };
}

export interface SampleSpec {
  /** Logical shape (NCHW; torch weight layouts). */
  shape: number[];
  /** Flat logical indices sampled. */
  idx: number[];
}

export interface Expected {
  value: number[];
  /** Per sample: the size of the terms the value is made of (tolerance scale). */
  mag: number[];
}

export interface Workload {
  name: string;
  title: string;
  kind: 'kernel' | 'step';
  /** Floating-point work per run (for GFLOP/s), where it is meaningful. */
  flops?: number;
  /** Minimum memory traffic per run (for GB/s) for memory-bound kernels. */
  bytes?: number;
  /** Rough work per run, used only to skip peers that would blow the time cap. */
  estFlops: number;
  /** Which of the engine's measured rates predicts this workload: its matmul's or its conv's. */
  estRate?: 'matmul' | 'conv';
  /** Sized for a GPU: left out on adapters under 1 TFLOP/s (a CPU driver) unless --filter names it. */
  gpuSized?: boolean;
  inputs: Record<string, InputSpec>;
  /** Workload-specific settings shared with torch_bench.py. */
  cfg: Record<string, number | number[]>;
  samples: Record<string, SampleSpec>;
  /** |got − ref| ≤ rtol·mag (+ a tiny absolute floor). */
  rtol: number;
  reference?: (data: (name: string) => Float32Array) => Record<string, Expected>;
}

const S = (shape: number[], count: number, seed: number): SampleSpec => ({ shape, idx: sampleIndices(shape, count, seed) });

function matmulWorkload(n: number): Workload {
  return {
    name: `matmul-${n}`,
    title: `matmul ${n}×${n}·${n}×${n}`,
    kind: 'kernel',
    gpuSized: n >= 4096,
    flops: 2 * n ** 3,
    estFlops: 2 * n ** 3,
    inputs: { a: { shape: [n, n], seed: 1 }, b: { shape: [n, n], seed: 2 } },
    cfg: { n },
    samples: { c: S([n, n], 48, 100 + n) },
    rtol: 1e-4,
    reference: (d) => {
      const a = d('a'), b = d('b');
      const value: number[] = [], mag: number[] = [];
      for (const i of sampleIndices([n, n], 48, 100 + n)) {
        const r = Math.floor(i / n), c = i % n;
        let s = 0, m = 0;
        for (let k = 0; k < n; k++) {
          const t = a[r * n + k] * b[k * n + c];
          s += t;
          m += Math.abs(t);
        }
        value.push(s);
        mag.push(m);
      }
      return { c: { value, mag } };
    },
  };
}

/** Batch-variant names: the model's batch 32 is plain, others end in -b<batch>. */
const suffix = (batch: number) => (batch === 32 ? '' : `-b${batch}`);

/** f64 conv2d at one output position (NCHW, weight [Cout, Cin, kh, kw]). */
function convAt(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array, o: number[], stride: number, pad: number): [number, number] {
  const [, cin, h, wd] = xs;
  const [, , kh, kw] = ws;
  const [n, co, oh, ow] = o;
  let s = b[co], m = Math.abs(b[co]);
  for (let ci = 0; ci < cin; ci++) {
    for (let i = 0; i < kh; i++) {
      const ih = oh * stride - pad + i;
      if (ih < 0 || ih >= h) continue;
      for (let j = 0; j < kw; j++) {
        const iw = ow * stride - pad + j;
        if (iw < 0 || iw >= wd) continue;
        const t = x[((n * cin + ci) * h + ih) * wd + iw] * w[((co * cin + ci) * kh + i) * kw + j];
        s += t;
        m += Math.abs(t);
      }
    }
  }
  return [s, m];
}

const conv2dW = (batch: number): Workload => {
  const xs = [batch, 1, 128, 258], ws = [32, 1, 3, 3], ys = [batch, 32, 128, 258];
  return {
    name: `conv2d${suffix(batch)}`,
    title: `conv2d ${xs.join('×')} → 32 ch, 3×3 pad 1`,
    kind: 'kernel',
    flops: 2 * prod(ys) * 9,
    estFlops: 2 * prod(ys) * 9,
    inputs: { x: { shape: xs, seed: 3 }, w: { shape: ws, seed: 4, scale: 1 / 3 }, b: { shape: [32], seed: 5, scale: 0.1 } },
    cfg: { stride: 1, padding: 1 },
    samples: { y: S(ys, 64, 7) },
    rtol: 1e-4,
    reference: (d) => {
      const value: number[] = [], mag: number[] = [];
      for (const i of sampleIndices(ys, 64, 7)) {
        const [v, m] = convAt(d('x'), xs, d('w'), ws, d('b'), unflat(i, ys), 1, 1);
        value.push(v);
        mag.push(m);
      }
      return { y: { value, mag } };
    },
  };
};

const convTransposeW: Workload = (() => {
  const xs = [64, 128, 25, 25], ws = [128, 64, 5, 5], ys = [64, 64, 50, 50];
  const stride = 2, pad = 2;
  return {
    name: 'conv-transpose',
    title: 'convTranspose2d 64×128×25×25 → 64×64×50×50, 5×5 s2 p2 op1',
    kind: 'kernel',
    flops: 2 * prod(xs) * 64 * 25,
    estFlops: 2 * prod(xs) * 64 * 25,
    estRate: 'conv',
    inputs: { x: { shape: xs, seed: 6 }, w: { shape: ws, seed: 7, scale: 1 / Math.sqrt(128 * 25) }, b: { shape: [64], seed: 8, scale: 0.1 } },
    cfg: { stride, padding: pad, outputPadding: 1 },
    samples: { y: S(ys, 64, 8) },
    rtol: 1e-4,
    reference: (d) => {
      const x = d('x'), w = d('w'), b = d('b');
      const value: number[] = [], mag: number[] = [];
      for (const i of sampleIndices(ys, 64, 8)) {
        const [n, co, oh, ow] = unflat(i, ys);
        let s = b[co], m = Math.abs(b[co]);
        for (let kh = 0; kh < 5; kh++) {
          const th = oh + pad - kh; // = ih·stride
          if (th < 0 || th % stride) continue;
          const ih = th / stride;
          if (ih >= 25) continue;
          for (let kw = 0; kw < 5; kw++) {
            const tw = ow + pad - kw;
            if (tw < 0 || tw % stride) continue;
            const iw = tw / stride;
            if (iw >= 25) continue;
            for (let ci = 0; ci < 128; ci++) {
              const t = x[((n * 128 + ci) * 25 + ih) * 25 + iw] * w[((ci * 64 + co) * 5 + kh) * 5 + kw];
              s += t;
              m += Math.abs(t);
            }
          }
        }
        value.push(s);
        mag.push(m);
      }
      return { y: { value, mag } };
    },
  };
})();

// The first conv block's output in the classifier: [batch, 32, 128, 258]. At
// batch 32 it is 129 MiB, over lavapipe's 128 MiB storage binding limit; the
// batch-16 variants are what fits there.

const batchNormW = (batch: number): Workload => {
  const ACT = [batch, 32, 128, 258];
  return {
    name: `batchnorm2d${suffix(batch)}`,
    title: `batchNorm2d training ${ACT.join('×')}`,
    kind: 'kernel',
    bytes: 3 * 4 * prod(ACT),
    estFlops: 8 * prod(ACT),
    inputs: {
      x: { shape: ACT, seed: 9 },
      weight: { shape: [32], seed: 10 },
      bias: { shape: [32], seed: 11, scale: 0.1 },
      runningMean: { shape: [32], seed: 0, fill: 0 },
      runningVar: { shape: [32], seed: 0, fill: 1 },
    },
    cfg: { eps: 1e-5, momentum: 0.1 },
    samples: { y: S(ACT, 64, 9) },
    // statistics over 10⁶ values per channel: an f32 one-pass variance is good to ~3e-4
    rtol: 1e-3,
    reference: (d) => {
      const x = d('x'), w = d('weight'), b = d('bias');
      const [n, c, h, wd] = ACT;
      const plane = h * wd;
      const idx = sampleIndices(ACT, 64, 9);
      const stats = new Map<number, [number, number]>();
      for (const i of idx) {
        const ch = unflat(i, ACT)[1];
        if (stats.has(ch)) continue;
        let s = 0;
        for (let k = 0; k < n; k++) for (let p = 0, o = (k * c + ch) * plane; p < plane; p++) s += x[o + p];
        const mu = s / (n * plane);
        let v = 0;
        for (let k = 0; k < n; k++) for (let p = 0, o = (k * c + ch) * plane; p < plane; p++) v += (x[o + p] - mu) ** 2;
        stats.set(ch, [mu, v / (n * plane)]);
      }
      const value: number[] = [], mag: number[] = [];
      for (const i of idx) {
        const ch = unflat(i, ACT)[1];
        const [mu, v] = stats.get(ch)!;
        const y = ((x[i] - mu) / Math.sqrt(v + 1e-5)) * w[ch] + b[ch];
        value.push(y);
        mag.push(1 + Math.abs(y));
      }
      return { y: { value, mag } };
    },
  };
};

const maxPoolW = (batch: number): Workload => {
  const ACT = [batch, 32, 128, 258], POOLED = [batch, 32, 64, 129];
  return {
    name: `maxpool2d${suffix(batch)}`,
    title: `maxPool2d 2×2 s2 ${ACT.join('×')}`,
    kind: 'kernel',
    bytes: 4 * (prod(ACT) + prod(POOLED)),
    estFlops: prod(ACT),
    inputs: { x: { shape: ACT, seed: 12 } },
    cfg: { kernel: 2, stride: 2 },
    samples: { y: S(POOLED, 64, 12) },
    rtol: 0,
    reference: (d) => {
      const x = d('x');
      const [, , h, wd] = ACT;
      const value: number[] = [], mag: number[] = [];
      for (const i of sampleIndices(POOLED, 64, 12)) {
        const [n, c, oh, ow] = unflat(i, POOLED);
        const base = (n * ACT[1] + c) * h * wd;
        let m = -Infinity;
        for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) m = Math.max(m, x[base + (2 * oh + a) * wd + 2 * ow + b]);
        value.push(m);
        mag.push(0);
      }
      return { y: { value, mag } };
    },
  };
};

const FRAMES = 1300, NFFT = 2048, BINS = NFFT / 2 + 1;
const rfftW: Workload = {
  name: 'rfft',
  title: `rfft ${FRAMES} frames × n=${NFFT}`,
  kind: 'kernel',
  // the usual FFT convention: 5·N·log2(N) per complex transform, half for a real one
  flops: FRAMES * 2.5 * NFFT * Math.log2(NFFT),
  // tfjs computes a DFT, O(N²) per frame: budget peers for that
  estFlops: FRAMES * 8 * NFFT * BINS,
  inputs: { x: { shape: [FRAMES, NFFT], seed: 13 } },
  cfg: { frames: FRAMES, n: NFFT },
  samples: { re: S([FRAMES, BINS], 48, 13), im: S([FRAMES, BINS], 48, 14) },
  rtol: 2e-5,
  reference: (d) => {
    const x = d('x');
    const out: Record<string, Expected> = {};
    for (const [name, seed, part] of [['re', 13, 0], ['im', 14, 1]] as const) {
      const value: number[] = [], mag: number[] = [];
      for (const i of sampleIndices([FRAMES, BINS], 48, seed)) {
        const f = Math.floor(i / BINS), k = i % BINS;
        let s = 0, m = 0;
        for (let t = 0; t < NFFT; t++) {
          const v = x[f * NFFT + t];
          const ang = (2 * Math.PI * ((k * t) % NFFT)) / NFFT;
          s += part === 0 ? v * Math.cos(ang) : -v * Math.sin(ang);
          m += Math.abs(v);
        }
        value.push(s);
        mag.push(m);
      }
      out[name] = { value, mag };
    }
    return out;
  },
};

// Engine overhead per dispatch: a chain of small elementwise ops whose GPU
// work is negligible, so the time is what each engine spends recording,
// binding and launching an op (training loops are full of such ops).
const CHAIN = 100, CN = 64;
const opChainW: Workload = {
  name: 'op-chain',
  title: `dispatch overhead: ${CHAIN} × (h·a + b) on ${CN}×${CN}, ${2 * CHAIN} ops`,
  kind: 'kernel',
  estFlops: 2 * CHAIN * CN * CN,
  inputs: { h: { shape: [CN, CN], seed: 31 }, a: { shape: [CN, CN], seed: 32, scale: 0.5 }, b: { shape: [CN, CN], seed: 33 } },
  cfg: { steps: CHAIN },
  samples: { y: S([CN, CN], 48, 34) },
  rtol: 1e-5,
  reference: (d) => {
    const h = d('h'), a = d('a'), b = d('b');
    const value: number[] = [], mag: number[] = [];
    for (const i of sampleIndices([CN, CN], 48, 34)) {
      // |a| ≤ 0.5: the chain converges, and rounding errors shrink as they go
      let v = h[i], m = Math.abs(h[i]);
      for (let s = 0; s < CHAIN; s++) {
        v = v * a[i] + b[i];
        m = m * Math.abs(a[i]) + Math.abs(b[i]);
      }
      value.push(v);
      mag.push(m);
    }
    return { y: { value, mag } };
  },
};

// The cover generator's forward pass, as `sleeve cover` runs it (inference,
// batch 64): z‖label (110) → linear → 128×25×25 → batchnorm (running
// statistics) → lrelu → convT 5×5 s2 → 64×50×50 → batchnorm → lrelu → convT
// 5×5 s2 → 3×100×100 → tanh. Checked across engines, PyTorch first.
const GB = 64;
/** Batchnorm i's weight, bias and running statistics over c channels. */
const bnInputs = (i: number, c: number, seed: number): Record<string, InputSpec> => ({
  [`g${i}`]: { shape: [c], seed, kind: 'unit' },
  [`be${i}`]: { shape: [c], seed: seed + 1, scale: 0.1 },
  [`rm${i}`]: { shape: [c], seed: seed + 2, scale: 0.1 },
  [`rv${i}`]: { shape: [c], seed: seed + 3, fill: 1 },
});
const generatorW: Workload = {
  name: 'generator-forward',
  title: 'cover generator forward (batch 64: 110 → linear 128×25×25 → convT → 64×50×50 → convT → 3×100×100)',
  kind: 'step',
  estFlops: 2 * GB * 110 * 80000 + 2 * GB * 128 * 625 * 64 * 25 + 2 * GB * 64 * 2500 * 3 * 25,
  estRate: 'conv',
  inputs: {
    z: { shape: [GB, 110], seed: 40 },
    wl: { shape: [128 * 25 * 25, 110], seed: 41, scale: 1 / Math.sqrt(110) },
    bl: { shape: [128 * 25 * 25], seed: 42, scale: 0.1 },
    ...bnInputs(1, 128, 43),
    w2: { shape: [128, 64, 5, 5], seed: 47, scale: 1 / Math.sqrt(128 * 25) },
    b2: { shape: [64], seed: 48, scale: 0.1 },
    ...bnInputs(2, 64, 49),
    w3: { shape: [64, 3, 5, 5], seed: 53, scale: 1 / Math.sqrt(64 * 25) },
    b3: { shape: [3], seed: 54, scale: 0.1 },
  },
  cfg: { slope: 0.2, eps: 1e-5, batch: GB },
  samples: { y: S([GB, 3, 100, 100], 64, 40) },
  rtol: 1e-3,
};

// WGAN-GP critic: conv(3→64, 5, s2, p2) → lrelu → conv(64→128, 5, s2, p2) → lrelu → flatten → linear.
const CB = 64;
const criticConvFlops = 2 * CB * 64 * 50 * 50 * 3 * 25 + 2 * CB * 128 * 25 * 25 * 64 * 25;
const criticW: Workload = {
  name: 'critic-gp-step',
  title: 'WGAN-GP critic loss + grads (batch 64, 3×100×100, grad-of-grad)',
  kind: 'step',
  // 3 critic forwards, ∂D/∂x̂, then the penalty's double backward and the plain backwards
  estFlops: 12 * criticConvFlops,
  estRate: 'conv',
  inputs: {
    real: { shape: [CB, 3, 100, 100], seed: 20 },
    fake: { shape: [CB, 3, 100, 100], seed: 21 },
    eps: { shape: [CB, 1, 1, 1], seed: 22, kind: 'unit' },
    w1: { shape: [64, 3, 5, 5], seed: 23, scale: 1 / Math.sqrt(75) },
    b1: { shape: [64], seed: 24, scale: 0.1 },
    w2: { shape: [128, 64, 5, 5], seed: 25, scale: 1 / Math.sqrt(1600) },
    b2: { shape: [128], seed: 26, scale: 0.1 },
    wl: { shape: [1, 128 * 25 * 25], seed: 27, scale: 1 / Math.sqrt(128 * 25 * 25) },
    bl: { shape: [1], seed: 28, scale: 0.1 },
  },
  cfg: { slope: 0.2, lambda: 10 },
  samples: {
    loss: { shape: [1], idx: [0] },
    g_w1: S([64, 3, 5, 5], 32, 23),
    g_b1: S([64], 16, 24),
    g_w2: S([128, 64, 5, 5], 32, 25),
    g_wl: S([1, 128, 25, 25], 32, 27),
  },
  rtol: 5e-3,
};

// Genre classifier: 3 × (conv 3×3 p1 → batchnorm → lrelu → maxpool 2), linear → 10, cross-entropy, Adam.
const classifierW = (batch: number): Workload => {
  const CLS = [batch, 1, 128, 258];
  const classifierConvFlops = 2 * batch * (32 * 128 * 258 * 1 + 64 * 64 * 129 * 32 + 128 * 32 * 64 * 64) * 9;
  return {
    name: `classifier-step${suffix(batch)}`,
    title: `classifier train step (batch ${batch}, 1×128×258, conv 32/64/128, Adam)`,
    kind: 'step',
    estFlops: 3 * classifierConvFlops,
    estRate: 'conv',
    inputs: {
      x: { shape: CLS, seed: 30 },
      w1: { shape: [32, 1, 3, 3], seed: 31, scale: 1 / 3 },
      b1: { shape: [32], seed: 32, scale: 0.1 },
      w2: { shape: [64, 32, 3, 3], seed: 33, scale: 1 / Math.sqrt(288) },
      b2: { shape: [64], seed: 34, scale: 0.1 },
      w3: { shape: [128, 64, 3, 3], seed: 35, scale: 1 / Math.sqrt(576) },
      b3: { shape: [128], seed: 36, scale: 0.1 },
      wl: { shape: [10, 128 * 16 * 32], seed: 37, scale: 1 / 256 },
      bl: { shape: [10], seed: 38, scale: 0.1 },
      // batchnorm: PyTorch's initial affine and running statistics
      ...Object.fromEntries([32, 64, 128].flatMap((c, i) => [
        [`g${i + 1}`, { shape: [c], seed: 0, fill: 1 }], [`be${i + 1}`, { shape: [c], seed: 0, fill: 0 }],
        [`rm${i + 1}`, { shape: [c], seed: 0, fill: 0 }], [`rv${i + 1}`, { shape: [c], seed: 0, fill: 1 }],
      ])),
    },
    cfg: { slope: 0.01, lr: 1e-3, eps: 1e-5, momentum: 0.1, classes: 10, channels: [32, 64, 128] },
    // the losses of the first two steps: the second shows the backward and Adam worked
    samples: { loss1: { shape: [1], idx: [0] }, loss2: { shape: [1], idx: [0] } },
    rtol: 2e-3,
  };
};

// The classifier's feature pipeline, as src/audio runs it for a 30 s clip:
// mono 44.1 kHz → resample to 22.05 kHz (scipy resample_poly's Kaiser
// filter) → centred STFT power → 64-band mel dB (the image), 128-band mel dB
// → onset strength → autocorrelation tempogram (lags 0…64) → the image
// [128, frames]. The clip is bench/data.ts's music(), so the row needs no
// data files. MP3 decoding and the mono mixdown are not part of it (NumPy and
// torch have no MP3 decoder; bench/features.bench.ts times sleeve's).
// Checked against an f64 restatement of test/ref/audio_ref.py
// (bench/features_ref.ts).
const FEAT: FeatureCfg = {
  rateIn: 44100, rate: 22050, zeroCrossings: 10, kaiserBeta: 5, nFft: 2048, hop: 512,
  nMels: 64, onsetMels: 128, topDb: 80, amin: 1e-10, winLength: 384, nLags: 64,
};
const FEAT_IN = 30 * FEAT.rateIn;
const FEAT_Y = Math.ceil((FEAT_IN * FEAT.rate) / FEAT.rateIn);
const FEAT_T = 1 + Math.floor(FEAT_Y / FEAT.hop);
const FEAT_BINS = FEAT.nFft / 2 + 1;
const FEAT_SAMPLES: Record<string, SampleSpec> = {
  y: S([FEAT_Y], 48, 60),
  power: S([FEAT_T, FEAT_BINS], 48, 61),
  melDb: S([FEAT_T, FEAT.nMels], 64, 62),
  onset: S([FEAT_T], 48, 63),
  tempogram: S([FEAT_T, FEAT.nLags + 1], 64, 64),
  image: S([FEAT.nMels + FEAT.nLags, FEAT_T], 64, 65),
};
// Tolerances, each rtol·mag with rtol = 1e-5, against the f64 reference. In
// brackets the worst error over every position (not only the samples) that
// sleeve on lavapipe and torch-cpu showed here, 8–40× inside the bounds.
//   y          Σ|x·h| per sample: an f32 sum of 41 filter taps      [2.8e-7 of it]
//   power      (Σ|y·window|)² per frame: an f32 FFT's error bound on |X|²
//              is about 2ε·log2(n_fft) ≈ 1.3e-6 of it (torch reaches that in
//              a frame that only just reaches past the opening silence) [1.3e-6]
//   mel dB     1e-3 dB, absolute. Through the log an absolute dB error is a
//              relative one on the band's power (1e-3 dB = 2.3e-4), whatever
//              the level; the top_db clip only moves values to max − 80 dB,
//              and an f32 max is within ~1e-5 dB of the f64 one. The floor
//              is in play: the opening silence and the fade-out reach it. [2.8e-5 dB]
//   onset      1e-4, absolute (a mean of 128 rectified dB rises; the
//              envelope peaks at 31 where the music comes in)       [5.5e-6]
//   tempogram  1e-5, absolute (columns normalised to lag 0 = 1)     [2.4e-7]
//   image      the same in image units (mel rows are dB / 80 + const) [3.5e-7]
const MEL_DB_MAG = 100, ONSET_MAG = 10, TG_MAG = 1;
const featuresW: Workload = {
  name: 'features-30s',
  title: `audio features of a 30 s clip: resample 44.1 → 22.05 kHz, STFT, mel dB, onset, tempogram → image 128×${FEAT_T} (no MP3 decode)`,
  kind: 'step',
  // mel matmuls (64 + 128 bands over all bins), the STFT and the tempogram's FFTs
  estFlops: 2 * FEAT_T * FEAT_BINS * (FEAT.nMels + FEAT.onsetMels) + FEAT_T * 2.5 * FEAT.nFft * 11 + FEAT_T * 2 * 5 * 1024 * 10,
  inputs: { x: { shape: [FEAT_IN], seed: 60, synth: { kind: 'music', rate: FEAT.rateIn } } },
  cfg: { ...FEAT },
  samples: FEAT_SAMPLES,
  rtol: 1e-5,
  reference: (d) => {
    const r = featuresRef(d('x'), FEAT);
    const out: Record<string, Expected> = {};
    const at = (name: string, f: (c: number[]) => [number, number]) => {
      const spec = FEAT_SAMPLES[name];
      const value: number[] = [], mag: number[] = [];
      for (const i of spec.idx) {
        const [v, m] = f(unflat(i, spec.shape));
        value.push(v);
        mag.push(m);
      }
      out[name] = { value, mag };
    };
    const tg = new Map<number, Float64Array>();
    const tgAt = (t: number) => tg.get(t) ?? tg.set(t, r.tempogram(t)).get(t)!;
    at('y', ([m]) => [r.y[m], r.yMag[m]]);
    at('power', ([t, k]) => [r.power[t * FEAT_BINS + k], r.frameMag[t]]);
    at('melDb', ([t, b]) => [r.melDb[t * FEAT.nMels + b], MEL_DB_MAG]);
    at('onset', ([t]) => [r.onset[t], ONSET_MAG]);
    at('tempogram', ([t, l]) => [tgAt(t)[l], TG_MAG]);
    at('image', ([row, t]) => row < FEAT.nMels
      ? [(r.melDb[t * FEAT.nMels + row] - r.melMax) / FEAT.topDb + 1, MEL_DB_MAG / FEAT.topDb]
      : [tgAt(t)[row - FEAT.nMels + 1], TG_MAG]);
    return out;
  },
};
// `sleeve cover` from PCM on (src/cover.ts): features-30s's clip → its image
// → 5 slices of 258 frames → the genre classifier (eval: running statistics)
// → softmax averaged over the slices → the most probable genre, on the host
// → the generator paints it from a fixed z (batch 1) → the cover's pixels on
// the host. The weights are seeded, not trained: the work does not depend on
// their values, but the classifier's head is scaled up (16× torch's init)
// so that one genre wins by far more than the engines' rounding (0.151
// against 0.144 on lavapipe) and every engine paints the same one. Not in it: the MP3
// decode (no peer has an MP3 decoder; `sleeve cover --json` and
// bench/features.bench.ts time it) and the PNG encode (a millisecond on the
// host). Checked across engines, PyTorch first: the probabilities and
// samples of the cover.
const SLICE = 258, SLICES = 1 + Math.floor((FEAT_T - SLICE) / SLICE);
const CLS_CH = [32, 64, 128];
const coverClassifierFlops = 2 * SLICES * 9 * (CLS_CH[0] * 128 * SLICE + CLS_CH[1] * CLS_CH[0] * 64 * 129 + CLS_CH[2] * CLS_CH[1] * 32 * 64);
const coverGeneratorFlops = 2 * 110 * 80000 + 2 * 128 * 625 * 64 * 25 + 2 * 64 * 2500 * 3 * 25;
const coverInputs = (): Record<string, InputSpec> => {
  const out: Record<string, InputSpec> = { x: featuresW.inputs.x, z: { shape: [1, 100], seed: 71 } };
  let cin = 1, seed = 72;
  CLS_CH.forEach((c, i) => {
    const fan = cin * 9;
    out[`features.${4 * i}.weight`] = { shape: [c, cin, 3, 3], seed: seed++, scale: 1 / Math.sqrt(fan) };
    out[`features.${4 * i}.bias`] = { shape: [c], seed: seed++, scale: 1 / Math.sqrt(fan) };
    const bn = `features.${4 * i + 1}.`;
    Object.assign(out, {
      [`${bn}weight`]: { shape: [c], seed: 0, fill: 1 }, [`${bn}bias`]: { shape: [c], seed: 0, fill: 0 },
      [`${bn}running_mean`]: { shape: [c], seed: 0, fill: 0 }, [`${bn}running_var`]: { shape: [c], seed: 0, fill: 1 },
    });
    cin = c;
  });
  out['head.weight'] = { shape: [10, 128 * 16 * 32], seed: seed++, scale: 16 / 256 };
  out['head.bias'] = { shape: [10], seed: seed++, scale: 1 / 256 };
  // the generator: generator-forward's weights under the module's names
  const g = generatorW.inputs;
  Object.assign(out, {
    'project.weight': g.wl, 'project.bias': g.bl,
    'body.0.weight': g.g1, 'body.0.bias': g.be1, 'body.0.running_mean': g.rm1, 'body.0.running_var': g.rv1,
    'body.2.weight': g.w2, 'body.2.bias': g.b2,
    'body.3.weight': g.g2, 'body.3.bias': g.be2, 'body.3.running_mean': g.rm2, 'body.3.running_var': g.rv2,
    'body.5.weight': g.w3, 'body.5.bias': g.b3,
  });
  return out;
};
const coverW: Workload = {
  name: 'cover-30s',
  title: `song → cover from PCM, a 30 s clip: features, ${SLICES} slices classified, the genre painted (batch 1; no MP3 decode, no PNG)`,
  kind: 'step',
  estFlops: featuresW.estFlops + coverClassifierFlops + coverGeneratorFlops,
  estRate: 'conv',
  inputs: coverInputs(),
  cfg: { ...FEAT, sliceWidth: SLICE, slices: SLICES, classes: 10 },
  samples: { probs: { shape: [10], idx: Array.from({ length: 10 }, (_, i) => i) }, cover: S([1, 3, 100, 100], 64, 70) },
  rtol: 2e-3,
};

/** Class labels of the classifier batch (the same in every engine). */
export const classifierLabels = (n: number): number[] => Array.from({ length: n }, (_, i) => (i * 7 + 3) % 10);

/** Small workloads that measure an engine's rates (run under the names engines know). */
export const PROBES: Record<'matmul' | 'conv', Workload> = {
  matmul: matmulWorkload(512),
  conv: {
    ...conv2dW(32),
    title: 'rate probe: conv2d 8×16×32×32 → 32 ch, 3×3 pad 1',
    flops: 2 * 8 * 32 * 32 * 32 * 16 * 9,
    inputs: { x: { shape: [8, 16, 32, 32], seed: 3 }, w: { shape: [32, 16, 3, 3], seed: 4, scale: 1 / 12 }, b: { shape: [32], seed: 5, scale: 0.1 } },
    samples: {},
  },
};

export const WORKLOADS: Workload[] = [
  // 4096³ fills a big GPU, so its rate can be read against the card's peak
  matmulWorkload(512), matmulWorkload(1024), matmulWorkload(4096), conv2dW(32), conv2dW(16), convTransposeW,
  batchNormW(32), batchNormW(16), maxPoolW(32), maxPoolW(16), rfftW, opChainW, generatorW, criticW, classifierW(32), classifierW(16),
  featuresW, coverW,
];

/** Build one input's host data. */
export function makeInput(spec: InputSpec): Float32Array {
  const n = prod(spec.shape);
  if (spec.fill !== undefined) return new Float32Array(n).fill(spec.fill);
  if (spec.synth) return music(n, spec.synth.rate, spec.seed);
  return gen(spec.seed, n, spec.scale ?? 1, spec.kind ?? 'sym');
}

/** Memoised host inputs of one workload (freed with clear()). */
export class InputCache {
  private m = new Map<string, Float32Array>();
  constructor(readonly w: Workload) {}
  get = (name: string): Float32Array => {
    let d = this.m.get(name);
    if (!d) {
      const spec = this.w.inputs[name];
      if (!spec) throw new Error(`bench: workload ${this.w.name} has no input ${name}`);
      d = makeInput(spec);
      this.m.set(name, d);
    }
    return d;
  };
  clear(): void {
    this.m.clear();
  }
}
