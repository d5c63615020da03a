// The song-to-cover path: the classifier and generator modules against f64
// host restatements of their layers (small classifier shapes; the generator
// at its own), the stage functions of src/cover.ts, makeCover on a fixture
// MP3, and `sleeve cover` with checkpoints saved from the same networks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as decodePng } from 'fast-png';
import { expectClose, rng, runCommand, setup, sl } from './helpers.js';
import { GenreClassifier, GENRES } from '../src/models/classifier.js';
import { CoverGenerator } from '../src/models/generator.js';
import { coverNoise, coverPng, coverRgb, genreProbabilities, makeCover, paintCover } from '../src/cover.js';
import { featureParams } from '../src/audio/features.js';
import { coverCommand } from '../src/cli/cover.node.js';

const SONG = 'test/fixtures/audio/sig_48k_stereo_vbr.mp3';
let dir: string;

beforeAll(async () => {
  await setup();
  dir = mkdtempSync(join(tmpdir(), 'sleeve-cover-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- f64 restatements (NCHW, batch 1 unless said) ------------------------------

type Planes = { c: number; h: number; w: number; d: Float64Array };

function conv(x: Planes, wt: Float32Array, b: Float32Array, co: number, k: number, pad: number): Planes {
  const h = x.h + 2 * pad - k + 1, w = x.w + 2 * pad - k + 1;
  const d = new Float64Array(co * h * w);
  for (let o = 0; o < co; o++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    let s = b[o];
    for (let c = 0; c < x.c; c++) for (let a = 0; a < k; a++) for (let e = 0; e < k; e++) {
      const y = i + a - pad, z = j + e - pad;
      if (y >= 0 && y < x.h && z >= 0 && z < x.w) s += wt[((o * x.c + c) * k + a) * k + e] * x.d[(c * x.h + y) * x.w + z];
    }
    d[(o * h + i) * w + j] = s;
  }
  return { c: co, h, w, d };
}

/** Transposed conv, stride 2, padding p, output padding op; weight [ci, co, k, k]. */
function convT(x: Planes, wt: Float32Array, b: Float32Array, co: number, k: number, p: number, op: number): Planes {
  const h = (x.h - 1) * 2 - 2 * p + k + op, w = (x.w - 1) * 2 - 2 * p + k + op;
  const d = new Float64Array(co * h * w);
  for (let o = 0; o < co; o++) d.fill(b[o], o * h * w, (o + 1) * h * w);
  for (let c = 0; c < x.c; c++) for (let i = 0; i < x.h; i++) for (let j = 0; j < x.w; j++) {
    const v = x.d[(c * x.h + i) * x.w + j];
    for (let o = 0; o < co; o++) for (let a = 0; a < k; a++) for (let e = 0; e < k; e++) {
      const y = 2 * i - p + a, z = 2 * j - p + e;
      if (y >= 0 && y < h && z >= 0 && z < w) d[(o * h + y) * w + z] += v * wt[((c * co + o) * k + a) * k + e];
    }
  }
  return { c: co, h, w, d };
}

/** Batchnorm with running statistics (eval), then leaky ReLU. */
function bnAct(x: Planes, s: Record<string, Float32Array>, pre: string, slope: number): Planes {
  const d = new Float64Array(x.d.length), n = x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    const inv = 1 / Math.sqrt(s[pre + 'running_var'][c] + 1e-5);
    for (let i = 0; i < n; i++) {
      const v = (x.d[c * n + i] - s[pre + 'running_mean'][c]) * inv * s[pre + 'weight'][c] + s[pre + 'bias'][c];
      d[c * n + i] = v > 0 ? v : slope * v;
    }
  }
  return { ...x, d };
}

function pool2(x: Planes): Planes {
  const h = Math.floor(x.h / 2), w = Math.floor(x.w / 2), d = new Float64Array(x.c * h * w);
  for (let c = 0; c < x.c; c++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    let m = -Infinity;
    for (let a = 0; a < 2; a++) for (let e = 0; e < 2; e++) m = Math.max(m, x.d[(c * x.h + 2 * i + a) * x.w + 2 * j + e]);
    d[(c * h + i) * w + j] = m;
  }
  return { c: x.c, h, w, d };
}

function linear(x: ArrayLike<number>, wt: Float32Array, b: Float32Array): Float64Array {
  const out = new Float64Array(b.length);
  for (let o = 0; o < b.length; o++) {
    let s = b[o];
    for (let i = 0; i < x.length; i++) s += wt[o * x.length + i] * x[i];
    out[o] = s;
  }
  return out;
}

/** Random values for every parameter and buffer (running variance positive), loaded into m; returns them. */
async function randomise(m: sl.nn.Module, seed: number): Promise<Record<string, Float32Array>> {
  const r = rng(seed), vals: Record<string, Float32Array> = {}, ts: Record<string, sl.Tensor> = {};
  for (const [k, t] of Object.entries(m.stateDict())) {
    const a = Float32Array.from({ length: t.size }, () => (k.endsWith('running_var') ? 0.5 + r() : 2 * r() - 1) * (k.includes('weight') && t.rank > 1 ? 0.3 : 1));
    vals[k] = a;
    ts[k] = sl.tensor(a, t.shape);
  }
  m.loadStateDict(ts);
  Object.values(ts).forEach((t) => t.dispose());
  return vals;
}

describe('GenreClassifier', () => {
  it('has torch.nn key names and the default shapes (128 × 258 slices → 128·16·32 features → 10 genres)', () => {
    const m = new GenreClassifier();
    const shapes = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
    expect(shapes['features.0.weight']).toEqual([32, 1, 3, 3]);
    expect(shapes['features.1.running_var']).toEqual([32]);
    expect(shapes['features.4.weight']).toEqual([64, 32, 3, 3]);
    expect(shapes['features.8.weight']).toEqual([128, 64, 3, 3]);
    expect(shapes['head.weight']).toEqual([10, 128 * 16 * 32]);
    expect(Object.keys(shapes)).toHaveLength(3 * 6 + 2);
    expect(() => m.call(sl.zeros([1, 1, 128, 257]))).toThrow(/expected slices \[N, 1, 128, 258\]/);
    expect(() => new GenreClassifier({ rows: 4, width: 40 })).toThrow(/too small/);
    m.dispose();
  });

  it('matches an f64 restatement in eval mode (running statistics), odd sizes, 2 slices', async () => {
    const rows = 18, width = 22, ch: [number, number, number] = [3, 4, 5];
    const m = new GenreClassifier({ rows, width, classes: 7, channels: ch });
    const s = await randomise(m, 5);
    const r = rng(6);
    const x = Float32Array.from({ length: 2 * rows * width }, () => 2 * r() - 1);
    m.eval();
    const got = await sl.noGrad(() => m.call(sl.tensor(x, [2, 1, rows, width]))).read();
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      let h: Planes = { c: 1, h: rows, w: width, d: Float64Array.from(x.subarray(n * rows * width, (n + 1) * rows * width)) };
      ch.forEach((c, i) => {
        h = pool2(bnAct(conv(h, s[`features.${4 * i}.weight`], s[`features.${4 * i}.bias`], c, 3, 1), s, `features.${4 * i + 1}.`, 0.01));
      });
      expect([h.c, h.h, h.w]).toEqual([5, 2, 2]); // 18 → 9 → 4 → 2, 22 → 11 → 5 → 2
      want.push(...linear(h.d, s['head.weight'], s['head.bias']));
    }
    expectClose(got, want, { rtol: 1e-4, atol: 1e-5 }, 'logits');
    m.dispose();
  });
});

describe('CoverGenerator', () => {
  it('matches an f64 restatement: z ‖ one-hot → linear → 128×25×25 → bn, lrelu 0.2 → convT → bn, lrelu → convT → tanh', async () => {
    const g = new CoverGenerator();
    const s = await randomise(g, 7);
    // small weights keep tanh off its flat ends, where it would hide errors
    const scaled: Record<string, sl.Tensor> = {};
    for (const k of ['project.weight', 'body.2.weight', 'body.5.weight']) {
      s[k] = s[k].map((v) => v * (k === 'project.weight' ? 0.3 : 0.05));
      scaled[k] = sl.tensor(s[k], g.stateDict()[k].shape);
    }
    g.loadStateDict(scaled, { strict: false });
    Object.values(scaled).forEach((t) => t.dispose());
    const z = coverNoise(3, 100);
    const out = await paintCover(g, 4, z).read();
    expect(g.training).toBe(true); // paintCover runs in eval and restores the mode

    const zin = new Float64Array(110);
    zin.set(z);
    zin[100 + 4] = 1;
    let h: Planes = { c: 128, h: 25, w: 25, d: linear(zin, s['project.weight'], s['project.bias']) };
    h = bnAct(h, s, 'body.0.', 0.2);
    h = bnAct(convT(h, s['body.2.weight'], s['body.2.bias'], 64, 5, 2, 1), s, 'body.3.', 0.2);
    h = convT(h, s['body.5.weight'], s['body.5.bias'], 3, 5, 2, 1);
    expect([h.c, h.h, h.w]).toEqual([3, 100, 100]);
    const want = h.d.map(Math.tanh);
    let spread = 0;
    for (const v of want) spread = Math.max(spread, Math.abs(v));
    expect(spread).toBeGreaterThan(0.2); // the check sees real values, not a flat image
    expect(spread).toBeLessThan(0.999);
    expectClose(out, want, { rtol: 1e-4, atol: 2e-5 }, 'cover');
    expect(() => paintCover(g, 10, z)).toThrow(/genre index 10 is outside \[0, 10\)/);
    expect(() => paintCover(g, 0, z.subarray(1))).toThrow(/z has 99 values/);
    g.dispose();
  });
});

describe('cover stages', () => {
  it('coverNoise is a seeded N(0, 1) vector, the same for a seed and different across seeds', () => {
    const a = coverNoise(11, 20001);
    expect(coverNoise(11, 20001)).toEqual(a);
    expect(coverNoise(12, 100)).not.toEqual(a.subarray(0, 100));
    expect(coverNoise(11, 7)).toEqual(a.subarray(0, 7)); // a prefix: an odd length cuts the last pair
    let m = 0, v = 0;
    for (const x of a) m += x / a.length;
    for (const x of a) v += (x - m) ** 2 / a.length;
    expect(Math.abs(m)).toBeLessThan(0.03); // 4σ of the mean over 20001 draws is 0.028
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    expect(a.every(Number.isFinite)).toBe(true);
  });

  it('coverRgb maps [−1, 1] to 0…255 per channel, clamps, sends NaN to 0; coverPng round-trips', () => {
    const planes = new Float32Array(3 * 4);
    planes.set([-1, 0, 1, 0.5], 0); // R of the four pixels
    planes.set([-2, 2, NaN, -0.5], 4); // G
    planes.set([0.999, -0.999, 0.004, -0.004], 8); // B
    const rgb = coverRgb(planes, 2);
    expect([...rgb]).toEqual([0, 0, 255, 128, 255, 0, 255, 0, 128, 191, 64, 127]);
    expect(() => coverRgb(planes, 3)).toThrow(/12 values for 3 × 3 × 3/);
    const png = decodePng(coverPng(rgb, 2));
    expect([png.width, png.height, png.channels]).toEqual([2, 2, 3]);
    expect([...png.data]).toEqual([...rgb]);
  });

  it('genreProbabilities is the mean of the slices\' softmax', async () => {
    const m = new GenreClassifier({ rows: 8, width: 8, classes: 3, channels: [2, 2, 2] });
    await randomise(m, 9);
    const r = rng(10);
    const x = sl.tensor(Float32Array.from({ length: 3 * 64 }, () => r()), [3, 1, 8, 8]);
    m.eval();
    const logits = await sl.noGrad(() => m.call(x)).read();
    m.train();
    const p = await genreProbabilities(m, x).read();
    expect(m.training).toBe(true);
    const want = [0, 0, 0];
    for (let n = 0; n < 3; n++) {
      const row = [...logits.subarray(3 * n, 3 * n + 3)], mx = Math.max(...row);
      const e = row.map((v) => Math.exp(v - mx)), sum = e.reduce((a, b) => a + b);
      e.forEach((v, k) => (want[k] += v / sum / 3));
    }
    expectClose(p, want, { rtol: 1e-5, atol: 1e-7 }, 'probabilities');
    m.dispose();
  });
});

describe('makeCover', () => {
  it('names the most probable genre, paints it, and is the same for the same seed', async () => {
    sl.manualSeed(1);
    const classifier = new GenreClassifier(), generator = new CoverGenerator();
    const bytes = new Uint8Array(readFileSync(SONG));
    const a = await makeCover(bytes, SONG, { classifier, generator }, { seed: 5 });
    const probs = Object.values(a.probabilities);
    expect(Object.keys(a.probabilities)).toEqual([...GENRES]);
    expect(Math.abs(probs.reduce((x, y) => x + y) - 1)).toBeLessThan(1e-5);
    expect(a.probabilities[a.predicted]).toBe(Math.max(...probs));
    expect(a.genre).toBe(a.predicted);
    expect(a.slices).toBe(1); // 6 s: 259 frames, one slice of 258
    expect(a.summary.seconds).toBeCloseTo(6, 2);
    for (const t of Object.values(a.timings)) expect(t).toBeGreaterThanOrEqual(0);
    const png = decodePng(a.png);
    expect([png.width, png.height, png.channels]).toEqual([100, 100, 3]);
    expect([...png.data]).toEqual([...a.rgb]);
    expect(new Set(a.rgb).size).toBeGreaterThan(10); // a picture, not a flat fill
    expect(classifier.training && generator.training).toBe(true);

    const b = await makeCover(bytes, SONG, { classifier, generator }, { seed: 5 });
    expect(b.rgb).toEqual(a.rgb);
    expect(b.probabilities).toEqual(a.probabilities);
    const c = await makeCover(bytes, SONG, { classifier, generator }, { seed: 6 });
    expect(c.rgb).not.toEqual(a.rgb);
    const other = GENRES.find((g) => g !== a.predicted)!;
    const d = await makeCover(bytes, SONG, { classifier, generator }, { seed: 5, genre: other });
    expect([d.genre, d.predicted]).toEqual([other, a.predicted]);
    expect(d.rgb).not.toEqual(a.rgb);
    expect(a.warnings).toEqual([]);
    // a song shorter than one slice is padded, and says so
    const wide = new GenreClassifier({ width: 300 });
    const p = featureParams({ slices: { width: 300, hop: 300 } });
    const padded = await makeCover(bytes, SONG, { classifier: wide, generator }, { params: p });
    expect(padded.slices).toBe(1);
    expect(padded.warnings).toEqual([expect.stringMatching(/^sleeve: cover: .*sig_48k_stereo_vbr\.mp3: 6\.00 s is shorter than one slice \(6\.97 s\): padded/)]);
    wide.dispose();
    await expect(makeCover(bytes, SONG, { classifier, generator }, { genre: 'polka' })).rejects.toThrow(/no genre 'polka'/);
    await expect(makeCover(bytes, SONG, { classifier: new GenreClassifier({ width: 100 }), generator })).rejects.toThrow(/slices are 128 × 258, the classifier takes 128 × 100/);
    classifier.dispose();
    generator.dispose();
  });
});

/** Run the command, capturing what it prints. */
const run = (argv: string[]) => runCommand(coverCommand, argv);

describe('sleeve cover', () => {
  it('paints from checkpoints the same cover as from the networks they were saved from', async () => {
    const untrained = join(dir, 'u.png');
    const r = await run([SONG, '--out', untrained, '--untrained', '--seed', '3', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.untrained).toBe(true);
    expect(rep.slices).toBe(1);
    expect(GENRES).toContain(rep.genre);
    // the same networks (same seed), saved and given as checkpoints
    sl.manualSeed(3);
    const c = new GenreClassifier(), g = new CoverGenerator();
    writeFileSync(join(dir, 'c.safetensors'), await sl.saveSafetensors(c.stateDict()));
    writeFileSync(join(dir, 'g.safetensors'), await sl.saveSafetensors(g.stateDict()));
    c.dispose();
    g.dispose();
    const fromFiles = join(dir, 'f.png');
    const f = await run([SONG, '--out', fromFiles, '--classifier', join(dir, 'c.safetensors'), '--generator', join(dir, 'g.safetensors'), '--seed', '3']);
    expect(f.err).toBe('');
    expect(f.code).toBe(0);
    expect(f.out).toMatch(new RegExp(`^genre: ${rep.genre} \\(`, 'm'));
    expect(f.out).toMatch(/^time: decode \d+ ms, features \d+ ms, classify \d+ ms, paint \d+ ms, png \d+ ms, total \d+ ms$/m);
    expect(readFileSync(fromFiles)).toEqual(readFileSync(untrained));
  });

  it('remembers the pipelines a cover used, next to the tuner\'s cache, and shrugs off a broken list', async () => {
    const cache = join(dir, 'cache');
    const prev = process.env.SLEEVE_CACHE_DIR;
    process.env.SLEEVE_CACHE_DIR = cache;
    try {
      const out = join(dir, 'warm.png');
      expect((await run([SONG, '--out', out, '--untrained'])).code).toBe(0);
      const list = JSON.parse(readFileSync(join(cache, 'pipelines-cover.json'), 'utf8'));
      expect(list.adapter).toBe(JSON.stringify(sl.adapterInfo()));
      const kernels = new Set(list.pipelines.map((p: sl.PipelineKey) => p.kernel));
      expect(kernels).toContain('matmul_skinny_r1'); // the generator's linear layer on one z
      expect([...kernels].some((k) => String(k).startsWith('conv2d'))).toBe(true);
      // a broken list: the cover is made all the same, and the list rewritten
      writeFileSync(join(cache, 'pipelines-cover.json'), '{ not json');
      const r = await run([SONG, '--out', out, '--untrained']);
      expect([r.code, r.err]).toEqual([0, '']);
      expect(JSON.parse(readFileSync(join(cache, 'pipelines-cover.json'), 'utf8')).pipelines.length).toBeGreaterThan(0);
    } finally {
      if (prev === undefined) delete process.env.SLEEVE_CACHE_DIR;
      else process.env.SLEEVE_CACHE_DIR = prev;
    }
  });

  it('fails with one clear line and writes nothing', async () => {
    const out = join(dir, 'never.png');
    const none = await run([SONG, '--out', out]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/sleeve ships no trained weights yet: pass --classifier and --generator/);
    // the generator's checkpoint given as the classifier's
    sl.manualSeed(0);
    const g = new CoverGenerator();
    writeFileSync(join(dir, 'g0.safetensors'), await sl.saveSafetensors(g.stateDict()));
    g.dispose();
    const swapped = await run([SONG, '--out', out, '--classifier', join(dir, 'g0.safetensors'), '--generator', join(dir, 'g0.safetensors')]);
    expect(swapped.code).toBe(1);
    expect(swapped.err).toMatch(/^sleeve cover: .*g0\.safetensors: not a classifier checkpoint: GenreClassifier\.loadStateDict: missing keys: features\.0\.weight/);
    writeFileSync(join(dir, 'junk.safetensors'), 'not a checkpoint');
    const junk = await run([SONG, '--out', out, '--classifier', join(dir, 'junk.safetensors'), '--generator', join(dir, 'g0.safetensors')]);
    expect(junk.code).toBe(1);
    expect(junk.err).toMatch(/^sleeve: safetensors: /);
    const missing = await run([join(dir, 'nope.mp3'), '--out', out, '--untrained']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.mp3: no such file$/);
    expect(existsSync(out)).toBe(false);
    expect((await run([SONG, '--out', out, '--untrained', '--seed', '1.5'])).err).toMatch(/--seed must be an integer/);
    expect((await run([SONG, '--out', out, '--untrained', '--genre', 'polka'])).err).toMatch(/--genre: no genre 'polka'/);
    expect((await run([SONG, '--untrained'])).err).toMatch(/--out COVER\.png is required/);
    const keys = await run(['--keys']);
    expect(keys.code).toBe(0);
    expect(keys.out).toContain('  features.0.weight [32, 1, 3, 3]');
    expect(keys.out).toContain('  project.weight [80000, 110]');
    expect((await run(['--help'])).out).toMatch(/^Usage: sleeve cover SONG\.mp3 --out COVER\.png/);
  });
});
