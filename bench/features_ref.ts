// f64 reference for the features-30s workload: test/ref/audio_ref.py's
// definitions (scipy's resample_poly with its default filter, librosa's
// centred STFT, Slaney mel filters, power_to_db, onset strength and the
// autocorrelation tempogram) restated in TypeScript, written apart from
// src/audio so that it checks sleeve's pipeline instead of repeating it.
// Besides each value it returns the size of the terms behind it, the
// tolerance scale workloads.ts uses.
import { fftFast } from '../test/ref/fft.js';

export interface FeatureCfg {
  rateIn: number;
  rate: number;
  zeroCrossings: number;
  kaiserBeta: number;
  nFft: number;
  hop: number;
  nMels: number;
  onsetMels: number;
  topDb: number;
  amin: number;
  winLength: number;
  nLags: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function besselI0(x: number): number {
  let sum = 1, term = 1;
  for (let k = 1; k < 500 && term > sum * 1e-17; k++) {
    term *= (x * x) / (4 * k * k);
    sum += term;
  }
  return sum;
}

/** scipy.signal.firwin(2·half + 1, 1/max(up, down), window=('kaiser', β)) · up: resample_poly's filter. */
function lowpass(up: number, down: number, zeroCrossings: number, beta: number): Float64Array {
  const half = zeroCrossings * Math.max(up, down), cutoff = 1 / Math.max(up, down);
  const h = new Float64Array(2 * half + 1);
  let sum = 0;
  for (let n = 0; n < h.length; n++) {
    const m = n - half;
    const sinc = m === 0 ? 1 : Math.sin(Math.PI * cutoff * m) / (Math.PI * cutoff * m);
    const r = (2 * n) / (h.length - 1) - 1;
    h[n] = cutoff * sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / besselI0(beta));
    sum += h[n];
  }
  return h.map((v) => (v / sum) * up);
}

const hann = (n: number) => Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));

// Slaney's mel scale (librosa htk=False)
const F_SP = 200 / 3, MIN_LOG_HZ = 1000, MIN_LOG_MEL = MIN_LOG_HZ / F_SP, LOGSTEP = Math.log(6.4) / 27;
const hzToMel = (f: number) => (f >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) / LOGSTEP : f / F_SP);
const melToHz = (m: number) => (m >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOGSTEP * (m - MIN_LOG_MEL)) : F_SP * m);

/** librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm='slaney'), [nMels, bins]. */
function melFilters(sr: number, nFft: number, nMels: number): Float64Array[] {
  const bins = nFft / 2 + 1;
  const hi = hzToMel(sr / 2);
  const f = Array.from({ length: nMels + 2 }, (_, i) => melToHz((hi * i) / (nMels + 1)));
  return Array.from({ length: nMels }, (_, m) => {
    const w = new Float64Array(bins);
    const enorm = 2 / (f[m + 2] - f[m]);
    for (let k = 0; k < bins; k++) {
      const hz = (k * sr) / nFft;
      w[k] = Math.max(0, Math.min((hz - f[m]) / (f[m + 1] - f[m]), (f[m + 2] - hz) / (f[m + 2] - f[m + 1]))) * enorm;
    }
    return w;
  });
}

/** fb · power for every frame → [T, bands], then power_to_db (ref 1) floored at max − top_db. */
function melDb(power: Float64Array, T: number, bins: number, fb: Float64Array[], amin: number, topDb: number): Float64Array {
  const B = fb.length;
  const out = new Float64Array(T * B);
  let max = -Infinity;
  for (let b = 0; b < B; b++) {
    const w = fb[b];
    let lo = 0, hi = bins - 1;
    while (lo < bins && w[lo] === 0) lo++;
    while (hi > lo && w[hi] === 0) hi--;
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let k = lo; k <= hi; k++) s += w[k] * power[t * bins + k];
      const db = 10 * Math.log10(Math.max(amin, s)) - 10 * Math.log10(Math.max(amin, 1));
      out[t * B + b] = db;
      max = Math.max(max, db);
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], max - topDb);
  return out;
}

export interface FeatureRef {
  T: number;
  /** the resampled signal and, per sample, Σ|x·h| */
  y: Float64Array;
  yMag: Float64Array;
  /** |STFT|² [T, bins] and, per frame, (Σ|y·window|)², the largest any bin's power can be */
  power: Float64Array;
  frameMag: Float64Array;
  /** [T, nMels], dB */
  melDb: Float64Array;
  melMax: number;
  onset: Float64Array;
  /** Tempogram column t, lags 0 … nLags (normalised by its largest |value| over all winLength lags). */
  tempogram(t: number): Float64Array;
}

export function featuresRef(x: Float32Array, c: FeatureCfg): FeatureRef {
  // resample_poly: y[m] = Σₙ x[n]·h[m·down − n·up + half], m < ⌈len·up/down⌉
  const g = gcd(c.rate, c.rateIn), up = c.rate / g, down = c.rateIn / g;
  const h = lowpass(up, down, c.zeroCrossings, c.kaiserBeta);
  const half = (h.length - 1) / 2;
  const nOut = Math.ceil((x.length * up) / down);
  const y = new Float64Array(nOut), yMag = new Float64Array(nOut);
  for (let m = 0; m < nOut; m++) {
    let s = 0, a = 0;
    const lo = Math.max(0, Math.ceil((m * down + half - (h.length - 1)) / up)), hi = Math.min(x.length - 1, Math.floor((m * down + half) / up));
    for (let n = lo; n <= hi; n++) {
      const t = x[n] * h[m * down - n * up + half];
      s += t;
      a += Math.abs(t);
    }
    y[m] = s;
    yMag[m] = a;
  }

  // centred STFT, zero padding, periodic Hann
  const { nFft, hop } = c;
  const bins = nFft / 2 + 1, pad = nFft / 2;
  const T = 1 + Math.floor((nOut + 2 * pad - nFft) / hop);
  const win = hann(nFft);
  const power = new Float64Array(T * bins), frameMag = new Float64Array(T);
  const CHUNK = 64;
  for (let t0 = 0; t0 < T; t0 += CHUNK) {
    const n = Math.min(CHUNK, T - t0);
    const buf = new Float64Array(2 * nFft * n);
    for (let f = 0; f < n; f++) {
      let a = 0;
      for (let i = 0; i < nFft; i++) {
        const j = (t0 + f) * hop + i - pad;
        const v = j >= 0 && j < nOut ? y[j] * win[i] : 0;
        buf[2 * (f * nFft + i)] = v;
        a += Math.abs(v);
      }
      frameMag[t0 + f] = a * a;
    }
    const X = fftFast(buf, nFft);
    for (let f = 0; f < n; f++) {
      for (let k = 0; k < bins; k++) {
        const o = 2 * (f * nFft + k);
        power[(t0 + f) * bins + k] = X[o] ** 2 + X[o + 1] ** 2;
      }
    }
  }

  const mel = melDb(power, T, bins, melFilters(c.rate, nFft, c.nMels), c.amin, c.topDb);
  const melMax = mel.reduce((a, b) => Math.max(a, b), -Infinity);

  // onset strength: lag 1, max_size 1, mean over bands of the rectified rise; shifted by 1 + n_fft/(2·hop)
  const B = c.onsetMels;
  const S = melDb(power, T, bins, melFilters(c.rate, nFft, B), c.amin, c.topDb);
  const shift = 1 + Math.floor(nFft / (2 * hop));
  const onset = new Float64Array(T);
  for (let t = shift; t < T; t++) {
    const u = t - shift; // the rise from frame u to u + 1
    let s = 0;
    for (let b = 0; b < B; b++) s += Math.max(0, S[(u + 1) * B + b] - S[u * B + b]);
    onset[t] = s / B;
  }

  // tempogram: linear-ramp padding by W/2, periodic Hann, linear autocorrelation, norm = max |ac|
  const W = c.winLength, w = Math.floor(W / 2);
  const padded = new Float64Array(T + 2 * w);
  for (let i = 0; i < w; i++) {
    padded[i] = (onset[0] * i) / w;
    padded[w + T + i] = (onset[T - 1] * (w - 1 - i)) / w;
  }
  padded.set(onset, w);
  const tw = hann(W);
  const tempogram = (t: number): Float64Array => {
    const f = Float64Array.from({ length: W }, (_, j) => padded[t + j] * tw[j]);
    const ac = new Float64Array(W);
    let norm = 0;
    for (let l = 0; l < W; l++) {
      let s = 0;
      for (let j = 0; j + l < W; j++) s += f[j] * f[j + l];
      ac[l] = s;
      norm = Math.max(norm, Math.abs(s));
    }
    if (norm < 2.2250738585072014e-308) norm = 1;
    return ac.slice(0, c.nLags + 1).map((v) => v / norm);
  };
  return { T, y, yMag, power, frameMag, melDb: mel, melMax, onset, tempogram };
}
