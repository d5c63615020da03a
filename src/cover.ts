// Song → cover: the path `sleeve cover` takes. MP3 bytes → decoded, mono PCM
// (host) → resampled and the feature image (GPU) → slices → the classifier's
// class probabilities, averaged over the slices → the most probable genre →
// the generator's cover for it from a seeded z → RGB bytes and a PNG.
// The stages are separate functions so the bench and the tests can run any
// part of the path on inputs of their own.
import { encode } from 'fast-png';
import { flush, hostRandom, mean, nn, noGrad, softmax, tensor, tidy, type Tensor } from '../runtime/index.js';
import { checkParams, DEFAULT_PARAMS, decodeAudio, featureImage, type AudioSummary, type FeatureParams } from './audio/features.js';
import { sliceImage } from './audio/slices.js';
import type { DecodeOptions } from './audio/decode.js';
import { GENRES, type GenreClassifier } from './models/classifier.js';
import { COVER_SIZE, type CoverGenerator } from './models/generator.js';

export interface CoverModels {
  classifier: GenreClassifier;
  generator: CoverGenerator;
  /** Names of the classifier's outputs (default GENRES). */
  genres?: readonly string[];
}

export interface CoverOptions {
  /** Seed of the generator's z: the same song and seed give the same cover. Default 0. */
  seed?: number;
  /** Paint this genre instead of the one the classifier names. */
  genre?: string;
  params?: FeatureParams;
  decode?: DecodeOptions;
}

/** Wall milliseconds per stage; each GPU stage is waited for before its clock stops. */
export interface CoverTimings {
  decode: number;
  features: number;
  classify: number;
  paint: number;
  png: number;
  total: number;
}

export interface Cover {
  /** The genre painted (the classifier's, unless CoverOptions.genre). */
  genre: string;
  /** The classifier's choice and its probabilities, averaged over the slices. */
  predicted: string;
  probabilities: Record<string, number>;
  slices: number;
  /** COVER_SIZE × COVER_SIZE RGB, row-major, 3 bytes a pixel. */
  rgb: Uint8Array;
  png: Uint8Array;
  seed: number;
  summary: AudioSummary;
  warnings: string[];
  timings: CoverTimings;
}

/**
 * z for a seed: N(0, 1) values made on the host (Box–Muller over
 * hostRandom), so a seed means the same z on every adapter and does not
 * touch the global generator.
 */
export function coverNoise(seed: number, zDim: number): Float32Array {
  const u = hostRandom(seed);
  const z = new Float32Array(zDim);
  for (let i = 0; i < zDim; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())), a = 2 * Math.PI * u();
    z[i] = r * Math.cos(a);
    if (i + 1 < zDim) z[i + 1] = r * Math.sin(a);
  }
  return z;
}

/** Run fn with the modules in eval mode and no tape, restoring their modes after. */
function inference<T>(modules: nn.Module[], fn: () => T): T {
  const modes = modules.map((m) => m.training);
  modules.forEach((m) => m.eval());
  try {
    return noGrad(() => tidy(fn));
  } finally {
    modules.forEach((m, i) => m.train(modes[i]));
  }
}

/** slices [N, 1, rows, width] → class probabilities [classes], the mean of each slice's softmax. */
export function genreProbabilities(classifier: GenreClassifier, slices: Tensor): Tensor {
  return inference([classifier], () => mean(softmax(classifier.call(slices), 1), 0));
}

/** Index of the largest probability (the first on a tie). */
export function mostProbable(probs: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < probs.length; k++) if (probs[k] > probs[best]) best = k;
  return best;
}

/** The cover for genre index `genre` from z [zDim] → [1, 3, COVER_SIZE, COVER_SIZE] in [−1, 1]. */
export function paintCover(generator: CoverGenerator, genre: number, z: Float32Array): Tensor {
  if (!Number.isInteger(genre) || genre < 0 || genre >= generator.classes) {
    throw new Error(`sleeve: paintCover: genre index ${genre} is outside [0, ${generator.classes})`);
  }
  if (z.length !== generator.zDim) throw new Error(`sleeve: paintCover: z has ${z.length} values, the generator takes ${generator.zDim}`);
  return inference([generator], () => generator.call(tensor(z, [1, generator.zDim]), nn.oneHot([genre], generator.classes)));
}

/** [3, H, W] planes in [−1, 1] → H·W·3 RGB bytes ((v + 1)/2 · 255, rounded, clamped; NaN → 0). */
export function coverRgb(planes: Float32Array, size = COVER_SIZE): Uint8Array {
  const n = size * size;
  if (planes.length !== 3 * n) throw new Error(`sleeve: coverRgb: ${planes.length} values for 3 × ${size} × ${size}`);
  const rgb = new Uint8Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = Math.round(((planes[c * n + i] + 1) / 2) * 255);
      rgb[3 * i + c] = v > 0 ? Math.min(255, v) : 0;
    }
  }
  return rgb;
}

export function coverPng(rgb: Uint8Array, size = COVER_SIZE): Uint8Array {
  return encode({ width: size, height: size, data: rgb, channels: 3, depth: 8 });
}

/** MP3 bytes → the cover, with the genre, its probabilities and the time of each stage. */
export async function makeCover(bytes: Uint8Array, file: string, models: CoverModels, opts: CoverOptions = {}): Promise<Cover> {
  const p = opts.params ?? DEFAULT_PARAMS;
  checkParams(p);
  const genres = models.genres ?? GENRES;
  const { classifier, generator } = models;
  if (genres.length !== classifier.classes) throw new Error(`sleeve: cover: ${genres.length} genre names for a classifier of ${classifier.classes} classes`);
  if (generator.classes !== classifier.classes) throw new Error(`sleeve: cover: the generator takes ${generator.classes} genres, the classifier names ${classifier.classes}`);
  let forced = -1;
  if (opts.genre !== undefined) {
    forced = genres.indexOf(opts.genre);
    if (forced < 0) throw new Error(`sleeve: cover: no genre '${opts.genre}' (have ${genres.join(', ')})`);
  }
  const seed = opts.seed ?? 0;
  const t: number[] = [performance.now()];
  const audio = await decodeAudio(bytes, file, opts.decode);
  t.push(performance.now());

  const image = featureImage(audio.mono, p, audio.summary.sourceRate);
  let slices: ReturnType<typeof sliceImage>;
  try {
    slices = sliceImage(image, p.slices);
  } finally {
    image.dispose();
  }
  if (slices.tensor.shape[2] !== classifier.rows || slices.tensor.shape[3] !== classifier.width) {
    slices.tensor.dispose();
    throw new Error(`sleeve: cover: ${file}: the feature slices are ${slices.tensor.shape[2]} × ${slices.tensor.shape[3]}, the classifier takes ${classifier.rows} × ${classifier.width}`);
  }
  await flush(); // the features' own time: waited for here
  t.push(performance.now());

  let probs: Float32Array;
  try {
    const pt = genreProbabilities(classifier, slices.tensor);
    probs = await pt.read();
    pt.dispose();
  } finally {
    slices.tensor.dispose();
  }
  const best = mostProbable(probs);
  t.push(performance.now());

  const painted = paintCover(generator, forced >= 0 ? forced : best, coverNoise(seed, generator.zDim));
  const planes = await painted.read();
  painted.dispose();
  t.push(performance.now());

  const rgb = coverRgb(planes);
  const png = coverPng(rgb);
  t.push(performance.now());

  const warnings = [...audio.warnings];
  if (slices.padded) {
    const need = (p.slices.width * p.stft.hop) / p.sampleRate;
    warnings.push(`sleeve: cover: ${file}: ${audio.summary.seconds.toFixed(2)} s is shorter than one slice (${need.toFixed(2)} s): padded, so the genre rests on less music`);
  }
  const d = (i: number) => t[i + 1] - t[i];
  return {
    genre: genres[forced >= 0 ? forced : best],
    predicted: genres[best],
    probabilities: Object.fromEntries(genres.map((g, k) => [g, probs[k]])),
    slices: slices.count,
    rgb, png, seed,
    summary: audio.summary,
    warnings,
    timings: { decode: d(0), features: d(1), classify: d(2), paint: d(3), png: d(4), total: t[5] - t[0] },
  };
}
