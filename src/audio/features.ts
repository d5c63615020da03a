// The whole feature pipeline, MP3 bytes → the classifier's image, and the
// parameter record that travels with every model so inference computes
// exactly the features the model was trained on.
//
//   decode (mpg123, checked) → mono (mean of channels) → resample to 22,050 Hz
//   (Kaiser-windowed sinc, polyphase; GPU or host, as measured) → [GPU] centred
//   STFT, |X|² → Slaney mel
//   (64 bands) → power_to_db → block normalisation
//                                  └→ mel (128 bands) → dB → onset strength
//                                       → autocorrelation tempogram → lags 1…64
//   image = [mel block (rows 0…63, band 0 = lowest) ; tempogram block (rows 64…127, lag 1…64)] × frames
//
// Block normalisation (stored in params.image):
//   mel 'topDb'     (dB − (max − top_db)) / top_db: power_to_db has already floored
//                   the clip at its max − top_db, so the block spans exactly [0, 1]
//                   (max is the clip's max, so all slices of a clip share it)
//   mel 'affine'    (dB − offset) / scale with fixed numbers (clip-independent)
//   tempogram 'none' the columns are autocorrelations of a non-negative envelope
//                   divided by their max, so already in [0, 1]
//   'affine' is available for either block; 'none' leaves a block as computed.
import { affine, bandedMatmul, bandsOf, concat, getDevice, keep, max, slice, sub, tensor, tidy, transpose, type Tensor } from '../../runtime/index.js';
import { decodeMp3, toMono, type DecodeOptions } from './decode.js';
import { melFilterbank, powerToDb, type DbOptions } from './mel.js';
import { onsetStrength, type OnsetOptions } from './onset.js';
import { resample, resampledLength, resampleTensor, type ResampleOptions } from './resample.js';
import { frameCount, stftPower, type StftOptions } from './stft.js';
import { tempogram, type TempogramOptions } from './tempogram.js';
import type { SliceOptions } from './slices.js';
import type { StreamInfo } from './validate.js';

export type BlockNorm = { kind: 'topDb' } | { kind: 'affine'; offset: number; scale: number } | { kind: 'none' };

export interface FeatureParams {
  /** Format of this record; bumped when a default or a definition changes. */
  version: 1;
  /** Every clip is resampled to this rate first. */
  sampleRate: number;
  resample: Required<ResampleOptions>;
  stft: StftOptions;
  /** The image's mel block; fmax null = sampleRate / 2. */
  mel: { nMels: number; fmin: number; fmax: number | null; htk: boolean; norm: 'slaney' | null };
  /** power_to_db for every dB spectrum (image and onset). */
  db: DbOptions;
  onset: OnsetOptions;
  tempogram: TempogramOptions;
  image: {
    /** Tempogram rows: lags 1 … nLags (lag 0 is 1 by construction and carries nothing). */
    nLags: number;
    melNorm: BlockNorm;
    tempogramNorm: BlockNorm;
  };
  slices: SliceOptions;
}

export const DEFAULT_PARAMS: FeatureParams = {
  version: 1,
  sampleRate: 22050,
  resample: { zeroCrossings: 10, kaiserBeta: 5 },
  stft: { nFft: 2048, hop: 512, window: 'hann', center: true },
  mel: { nMels: 64, fmin: 0, fmax: null, htk: false, norm: 'slaney' },
  db: { ref: 1, amin: 1e-10, topDb: 80 },
  onset: { nMels: 128, fmin: 0, fmax: null, lag: 1, maxSize: 1 },
  tempogram: { winLength: 384, window: 'hann', center: true, norm: 'max' },
  image: { nLags: 64, melNorm: { kind: 'topDb' }, tempogramNorm: { kind: 'none' } },
  slices: { width: 258, hop: 258, padValue: 0 },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (base === null || typeof base !== 'object' || Array.isArray(base) || over === null || typeof over !== 'object') return over as T;
  // a block-normalisation record is replaced whole (its fields depend on its kind)
  if ('kind' in (base as object)) return { ...(over as object) } as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (!(k in out)) throw new Error(`sleeve: feature params: unknown field "${k}"`);
    out[k] = merge(out[k], v);
  }
  return out as T;
}

/** Defaults overridden by `over` (nested, field by field), checked. */
export function featureParams(over: DeepPartial<FeatureParams> = {}): FeatureParams {
  const p = merge(structuredClone(DEFAULT_PARAMS), over);
  checkParams(p);
  return p;
}

/** Throws a one-line error for any parameter the pipeline cannot honour. */
export function checkParams(p: FeatureParams): void {
  const bad = (what: string) => {
    throw new Error(`sleeve: feature params: ${what}`);
  };
  const int = (v: number, name: string, min = 1) => {
    if (!Number.isInteger(v) || v < min) bad(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  if (p.version !== 1) bad(`version ${p.version} is not supported (this build reads version 1)`);
  int(p.sampleRate, 'sampleRate');
  const pow2 = (n: number) => n >= 2 && (n & (n - 1)) === 0;
  if (!pow2(p.stft.nFft)) bad(`stft.nFft must be a power of 2 (the FFT kernel's), got ${p.stft.nFft}`);
  int(p.stft.hop, 'stft.hop');
  int(p.mel.nMels, 'mel.nMels');
  int(p.onset.nMels, 'onset.nMels');
  int(p.onset.lag, 'onset.lag');
  int(p.onset.maxSize, 'onset.maxSize');
  int(p.tempogram.winLength, 'tempogram.winLength', 2);
  int(p.image.nLags, 'image.nLags', 0);
  if (p.image.nLags >= p.tempogram.winLength) bad(`image.nLags (${p.image.nLags}) must be below tempogram.winLength (${p.tempogram.winLength})`);
  int(p.slices.width, 'slices.width');
  int(p.slices.hop, 'slices.hop');
  for (const [name, f] of [['mel', p.mel], ['onset', p.onset]] as const) {
    const fmax = f.fmax ?? p.sampleRate / 2;
    if (!(f.fmin >= 0 && fmax > f.fmin && fmax <= p.sampleRate / 2)) bad(`${name}: need 0 ≤ fmin < fmax ≤ sampleRate/2, got ${f.fmin}…${fmax}`);
  }
  if (!(p.db.amin > 0)) bad(`db.amin must be > 0, got ${p.db.amin}`);
  if (p.db.topDb !== null && !(p.db.topDb >= 0)) bad(`db.topDb must be ≥ 0 or null, got ${p.db.topDb}`);
  if (p.image.melNorm.kind === 'topDb' && !p.db.topDb) bad(`image.melNorm 'topDb' needs db.topDb > 0`);
  for (const n of [p.image.melNorm, p.image.tempogramNorm]) {
    if (n.kind === 'affine' && !(n.scale !== 0 && Number.isFinite(n.scale) && Number.isFinite(n.offset))) bad(`affine normalisation needs a finite, non-zero scale`);
  }
}

/** Rows of the image: mel bands, then tempogram lags. */
export function imageRows(p: FeatureParams): number {
  return p.mel.nMels + p.image.nLags;
}

// ---- GPU stages -------------------------------------------------------------

const filterbanks = new WeakMap<GPUDevice, Map<string, { w: Tensor; bands: number[] }>>();

/** A mel filterbank [bands, bins] on the GPU, with each band's nonzero bins,
 * built once per device and parameter set. */
function melBank(p: FeatureParams, f: { nMels: number; fmin: number; fmax: number | null }): { w: Tensor; bands: number[] } {
  const device = getDevice();
  let byKey = filterbanks.get(device);
  if (!byKey) filterbanks.set(device, (byKey = new Map()));
  const o = { sampleRate: p.sampleRate, nFft: p.stft.nFft, nMels: f.nMels, fmin: f.fmin, fmax: f.fmax, htk: p.mel.htk, norm: p.mel.norm };
  const key = JSON.stringify(o);
  let bank = byKey.get(key);
  if (!bank || bank.w.disposed) {
    const host = Float32Array.from(melFilterbank(o));
    const bins = o.nFft / 2 + 1;
    bank = { w: keep(tensor(host, [o.nMels, bins])), bands: bandsOf(host, o.nMels, bins) };
    byKey.set(key, bank);
  }
  return bank;
}

/** power [frames, bins] · bankᵀ, over each band's nonzero bins only. */
function melProject(power: Tensor, bank: { w: Tensor; bands: number[] }): Tensor {
  return bandedMatmul(power, bank.w, bank.bands);
}

function normalise(x: Tensor, n: BlockNorm, topDb: number | null): Tensor {
  if (n.kind === 'none') return x;
  if (n.kind === 'affine') return affine(x, 1 / n.scale, -n.offset / n.scale);
  const t = topDb!;
  // (x − (max − t)) / t  =  (x − max) / t + 1
  return affine(sub(x, max(x)), 1 / t, 1);
}

export interface FeatureTensors {
  /** |STFT|² [frames, nFft/2 + 1] */
  power: Tensor;
  /** dB mel spectrum of the image [frames, mel.nMels] (before block normalisation) */
  melDb: Tensor;
  /** onset strength [frames] */
  onset: Tensor;
  /** normalised autocorrelation, lags 0 … image.nLags [frames, nLags + 1] */
  tempogram: Tensor;
  /** the classifier's image [rows, frames] */
  image: Tensor;
}

/** Every stage on the GPU for a mono signal at p.sampleRate (all recorded, nothing read back). */
export function featureTensors(y: Tensor | Float32Array, p: FeatureParams): FeatureTensors {
  const power = stftPower(y, p.stft);
  const melDb = powerToDb(melProject(power, melBank(p, p.mel)), p.db);
  const onsetDb = powerToDb(melProject(power, melBank(p, p.onset)), p.db);
  const shift = p.stft.center ? Math.floor(p.stft.nFft / (2 * p.stft.hop)) : 0;
  const onset = onsetStrength(onsetDb, p.onset, shift);
  const tg = tempogram(onset, p.tempogram, p.image.nLags);
  const T = power.shape[0];
  const lags = slice(tg, [0, 1], [T, p.image.nLags]);
  const blocks = [normalise(melDb, p.image.melNorm, p.db.topDb), normalise(lags, p.image.tempogramNorm, p.db.topDb)];
  const image = transpose(p.image.nLags ? concat(blocks, 1) : blocks[0]);
  return { power, melDb, onset, tempogram: tg, image };
}

/**
 * The classifier's image [rows, frames] for a mono signal at `rate` (default
 * p.sampleRate; any other rate is resampled first, on the GPU or the host as
 * the tuner measured faster: resampleTensor); intermediates freed.
 */
export function featureImage(y: Float32Array, p: FeatureParams, rate = p.sampleRate): Tensor {
  const n = rate === p.sampleRate ? y.length : resampledLength(y.length, rate, p.sampleRate);
  if (frameCount(n, p.stft) < 1) throw new Error(`sleeve: features: ${n} samples at ${p.sampleRate} Hz give no STFT frame (n_fft ${p.stft.nFft})`);
  return tidy(() => featureTensors(rate === p.sampleRate ? y : resampleTensor(y, rate, p.sampleRate, p.resample), p).image);
}

// ---- from bytes ---------------------------------------------------------------

export interface AudioSummary {
  file: string;
  /** Rate and channels of the file, before mono mixdown and resampling. */
  sourceRate: number;
  sourceChannels: number;
  /** Seconds of audio decoded. */
  seconds: number;
  layer: number;
  vbr: boolean;
}

interface AudioFacts {
  summary: AudioSummary;
  info: StreamInfo;
  warnings: string[];
}

export interface DecodedAudio extends AudioFacts {
  /** Mono at the file's own rate (summary.sourceRate). */
  mono: Float32Array;
}

export interface PreparedAudio extends AudioFacts {
  /** Mono at params.sampleRate. */
  samples: Float32Array;
}

/** MP3 bytes → checked, decoded, mono PCM at the file's rate. */
export async function decodeAudio(bytes: Uint8Array, file: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  const d = await decodeMp3(bytes, file, opts);
  return {
    mono: toMono(d.channels),
    info: d.info,
    warnings: d.warnings,
    summary: {
      file, sourceRate: d.sampleRate, sourceChannels: d.channels.length, seconds: d.length / d.sampleRate,
      layer: d.info.first.layer, vbr: d.info.vbr || d.info.tagFrame,
    },
  };
}

/** MP3 bytes → checked, decoded, mono PCM resampled to p.sampleRate on the host
 * (for callers who want the samples; the feature path resamples on the GPU). */
export async function prepareAudio(bytes: Uint8Array, file: string, p: FeatureParams, opts: DecodeOptions = {}): Promise<PreparedAudio> {
  const { mono, ...facts } = await decodeAudio(bytes, file, opts);
  return { samples: resample(mono, facts.summary.sourceRate, p.sampleRate, p.resample), ...facts };
}

export interface Features extends AudioFacts {
  /** [rows, frames] on the GPU; the caller disposes it. */
  image: Tensor;
  frames: number;
  params: FeatureParams;
}

/** MP3 bytes → the classifier's image. */
export async function extractFeatures(bytes: Uint8Array, file: string, p: FeatureParams = DEFAULT_PARAMS, opts: DecodeOptions = {}): Promise<Features> {
  checkParams(p);
  const { mono, ...facts } = await decodeAudio(bytes, file, opts);
  const image = featureImage(mono, p, facts.summary.sourceRate);
  return { ...facts, image, frames: image.shape[1], params: p };
}
