// Mel filterbank (librosa.filters.mel) built on the CPU once per parameter
// set and applied on the GPU as one dense matmul; and power_to_db on the GPU.
// (The filterbank is ~97% zeros. Applying it block-sparse — groups of
// filters, each multiplying only the bins it covers — does ~12× fewer
// multiply-adds but was 2× slower on lavapipe: the slices and the join cost
// more memory passes than the matmul saves. A fused sparse kernel would win.)
import { affine, full, log, max, maximum, sub, type Tensor } from '../../runtime/index.js';

export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin: number;
  /** null: sampleRate / 2 */
  fmax: number | null;
  /** HTK mel formula instead of Slaney's (librosa htk=True). */
  htk: boolean;
  /** 'slaney': each filter divided by its width in Hz (constant energy per band); null: peak 1. */
  norm: 'slaney' | null;
}

export function hzToMel(f: number, htk = false): number {
  if (htk) return 2595 * Math.log10(1 + f / 700);
  // Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
  const fSp = 200 / 3, minLogHz = 1000, minLogMel = minLogHz / fSp, logstep = Math.log(6.4) / 27;
  return f >= minLogHz ? minLogMel + Math.log(f / minLogHz) / logstep : f / fSp;
}

export function melToHz(m: number, htk = false): number {
  if (htk) return 700 * (10 ** (m / 2595) - 1);
  const fSp = 200 / 3, minLogHz = 1000, minLogMel = minLogHz / fSp, logstep = Math.log(6.4) / 27;
  return m >= minLogMel ? minLogHz * Math.exp(logstep * (m - minLogMel)) : fSp * m;
}

/** Triangular filters, row-major [nMels, nFft/2 + 1], in f64. */
export function melFilterbank(o: MelOptions): Float64Array {
  const nBins = Math.floor(o.nFft / 2) + 1;
  const fmax = o.fmax ?? o.sampleRate / 2;
  const lo = hzToMel(o.fmin, o.htk), hi = hzToMel(fmax, o.htk);
  const edges = Array.from({ length: o.nMels + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (o.nMels + 1), o.htk));
  const w = new Float64Array(o.nMels * nBins);
  for (let m = 0; m < o.nMels; m++) {
    const [f0, f1, f2] = [edges[m], edges[m + 1], edges[m + 2]];
    const scale = o.norm === 'slaney' ? 2 / (f2 - f0) : 1;
    for (let k = 0; k < nBins; k++) {
      const f = (k * o.sampleRate) / o.nFft;
      const rise = (f - f0) / (f1 - f0), fall = (f2 - f) / (f2 - f1);
      w[m * nBins + k] = Math.max(0, Math.min(rise, fall)) * scale;
    }
  }
  return w;
}

export interface DbOptions {
  /** librosa power_to_db: ref, amin, top_db (null: no floor). */
  ref: number;
  amin: number;
  topDb: number | null;
}

const DB = 10 / Math.LN10;

/** 10·log10(max(amin, S)) − 10·log10(max(amin, ref)), floored at (max − top_db) over the whole tensor. */
export function powerToDb(s: Tensor, o: DbOptions): Tensor {
  const db = affine(log(maximum(s, full([1], o.amin))), DB, -DB * Math.log(Math.max(o.amin, Math.abs(o.ref))));
  if (o.topDb === null) return db;
  return maximum(db, sub(max(db), o.topDb));
}
