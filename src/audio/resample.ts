// Band-limited rational resampling: a Kaiser-windowed sinc low-pass applied
// polyphase, so only the taps that meet a real input sample are summed. The
// filter is the one scipy.signal.resample_poly designs by default (half
// length 10·max(up, down) in the upsampled domain, cutoff 1/max(up, down) of
// Nyquist, Kaiser β = 5, unit DC gain × up), and the output is aligned the
// same way, so the two agree to float rounding (tested on a chirp). The same
// sum runs on the host (resample, float64 accumulation) or on the GPU
// (resampleOnDevice, the runtime's polyphase kernel, float32), where the
// feature pipeline continues. Which one the pipeline takes (resampleTensor)
// is measured per adapter by the tuner (an H200 ~20× faster than the host,
// lavapipe level with it, Chromium's SwiftShader 5× slower).
import { getDevice, keep, polyphase, polyphaseFits, registerProbe, tensor, type Tensor } from '../../runtime/index.js';

export interface ResampleOptions {
  /** Filter half-length in zero crossings of the low-pass sinc (scipy: 10). */
  zeroCrossings?: number;
  /** Kaiser window β (scipy: 5). */
  kaiserBeta?: number;
}

export const RESAMPLE_DEFAULTS: Required<ResampleOptions> = { zeroCrossings: 10, kaiserBeta: 5 };

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1, term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** The filter's half-length in the upsampled domain: zeroCrossings·max(up, down). */
function halfLength(up: number, down: number, opts: ResampleOptions): number {
  return { ...RESAMPLE_DEFAULTS, ...opts }.zeroCrossings * Math.max(up, down);
}

/** The windowed-sinc low-pass for up/down, scaled by up (length 2·half + 1). */
export function designLowpass(up: number, down: number, opts: ResampleOptions = {}): Float64Array {
  const { kaiserBeta } = { ...RESAMPLE_DEFAULTS, ...opts };
  const maxRate = Math.max(up, down);
  const half = halfLength(up, down, opts);
  const fc = 1 / maxRate;
  const h = new Float64Array(2 * half + 1);
  const i0b = besselI0(kaiserBeta);
  let sum = 0;
  for (let k = 0; k < h.length; k++) {
    const t = k - half;
    const r = t / half;
    const w = besselI0(kaiserBeta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    const x = Math.PI * fc * t;
    h[k] = fc * (t === 0 ? 1 : Math.sin(x) / x) * w;
    sum += h[k];
  }
  for (let k = 0; k < h.length; k++) h[k] *= up / sum;
  return h;
}

/**
 * y[m] = Σₙ x[n]·h[m·down − n·up + half], m < ⌈len·up/down⌉ (samples outside x
 * count as zero): scipy.signal.resample_poly(x, up, down) with its default filter.
 */
export function resamplePoly(x: Float32Array, up: number, down: number, opts: ResampleOptions = {}): Float32Array {
  const g = gcd(up, down);
  up /= g;
  down /= g;
  if (up === 1 && down === 1) return x.slice();
  const h = designLowpass(up, down, opts);
  const half = (h.length - 1) / 2;
  const nOut = Math.ceil((x.length * up) / down);
  const { poly, taps } = phases(h, up);
  const y = new Float32Array(nOut);
  const nIn = x.length;
  let symmetric = true;
  for (let d = 1; d <= half; d++) symmetric &&= h[half + d] === h[half - d];
  if (up === 1 && symmetric) {
    // One phase, and the filter is symmetric (sinc and window depend on d²;
    // checked above, bit for bit): away from the ends, pair the samples
    // either side of the centre, half the multiplies.
    const mid = h[half];
    const lo = Math.ceil(half / down), hi = Math.floor((nIn - 1 - half) / down); // outputs whose window is inside x
    for (let m = Math.max(0, lo); m <= Math.min(nOut - 1, hi); m++) {
      const c = m * down;
      let acc = mid * x[c];
      for (let d = 1; d <= half; d++) acc += h[half + d] * (x[c - d] + x[c + d]);
      y[m] = acc;
    }
    for (let m = 0; m < nOut; m++) if (m < lo || m > hi) y[m] = edgeSample(x, poly, taps, up, down, half, m);
    return y;
  }
  for (let m = 0; m < nOut; m++) y[m] = edgeSample(x, poly, taps, up, down, half, m);
  return y;
}

/** The filter split into its up phases: row p holds h[p], h[p + up], … (zero
 * past the end); an output uses one phase only. */
function phases(h: Float64Array, up: number): { poly: Float64Array; taps: number } {
  const taps = Math.ceil(h.length / up);
  const poly = new Float64Array(up * taps);
  for (let p = 0; p < up; p++) for (let j = 0; j < taps; j++) poly[p * taps + j] = p + j * up < h.length ? h[p + j * up] : 0;
  return { poly, taps };
}

/** Output m of resamplePoly by its polyphase sum, any position (samples outside x are zero). */
function edgeSample(x: Float32Array, poly: Float64Array, taps: number, up: number, down: number, half: number, m: number): number {
  const c = m * down + half; // h index for n = 0
  const p = c % up;
  const n0 = (c - p) / up; // input index paired with h[p]; tap j pairs h[p + j·up] with x[n0 − j]
  const jLo = Math.max(0, n0 - x.length + 1);
  const jHi = Math.min(taps - 1, n0);
  let acc = 0;
  const base = p * taps;
  for (let j = jLo; j <= jHi; j++) acc += x[n0 - j] * poly[base + j];
  return acc;
}

/** Samples resample() returns for n at fromRate: ⌈n·up/down⌉ (resample_poly's). */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  const { up, down } = ratio(fromRate, toRate);
  return Math.ceil((n * up) / down);
}

function checkRates(fromRate: number, toRate: number): void {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
    throw new Error(`sleeve: resample: rates must be positive integers, got ${fromRate} → ${toRate}`);
  }
}

/** fromRate → toRate as the reduced up/down of the polyphase sum (rates checked). */
function ratio(fromRate: number, toRate: number): { up: number; down: number } {
  checkRates(fromRate, toRate);
  const g = gcd(toRate, fromRate);
  return { up: toRate / g, down: fromRate / g };
}

/** Resample from one rate to another (integers, e.g. 44100 → 22050). */
export function resample(x: Float32Array, fromRate: number, toRate: number, opts: ResampleOptions = {}): Float32Array {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) return x;
  return resamplePoly(x, toRate, fromRate, opts);
}

const banks = new WeakMap<GPUDevice, Map<string, { bank: Tensor; half: number }>>();

/** The polyphase bank [up, taps] for up/down on the GPU (float32), made once per device and filter. */
function deviceBank(up: number, down: number, opts: ResampleOptions): { bank: Tensor; half: number } {
  const device = getDevice();
  let byKey = banks.get(device);
  if (!byKey) banks.set(device, (byKey = new Map()));
  const key = JSON.stringify([up, down, { ...RESAMPLE_DEFAULTS, ...opts }]);
  let b = byKey.get(key);
  if (!b || b.bank.disposed) {
    const h = designLowpass(up, down, opts);
    const { poly, taps } = phases(h, up);
    b = { bank: keep(tensor(Float32Array.from(poly), [up, taps])), half: (h.length - 1) / 2 };
    byKey.set(key, b);
  }
  return b;
}

/**
 * resample() on the GPU: the same filter and alignment, summed in float32 by
 * the runtime's polyphase kernel, returned as a [length] tensor (the caller
 * disposes it). Within a few float32 roundings of resample() (tested).
 */
export function resampleOnDevice(x: Float32Array, fromRate: number, toRate: number, opts: ResampleOptions = {}): Tensor {
  const { up, down } = ratio(fromRate, toRate);
  if (up === 1 && down === 1) return tensor(x, [x.length]);
  const { bank, half } = deviceBank(up, down, opts);
  const input = tensor(x, [x.length]);
  try {
    return polyphase(input, bank, { up, down, offset: half, length: Math.ceil((x.length * up) / down) });
  } finally {
    input.dispose();
  }
}

/** Whether resampleOnDevice can take these rates and this length (the
 * kernel's indices are 32-bit: rate pairs whose reduced up·down passes 2^32,
 * e.g. 192,000 → 44,101 Hz, cannot). */
export function deviceCanResample(n: number, fromRate: number, toRate: number, opts: ResampleOptions = {}): boolean {
  const { up, down } = ratio(fromRate, toRate);
  return polyphaseFits(up, down, halfLength(up, down, opts), Math.ceil((n * up) / down));
}

export type ResampleVariant = 'device' | 'host';
let where: ResampleVariant = 'device';

/** Where resampleTensor resamples: the tuner's choice for this adapter, or the one set. */
export function resampleVariant(): ResampleVariant {
  return where;
}

/** Resample on the device or on the host from now on (tune() measures and sets it again). */
export function setResampleVariant(v: ResampleVariant): void {
  if (v !== 'device' && v !== 'host') throw new Error(`sleeve: resample: no variant '${v}' (device, host)`);
  where = v;
}

/**
 * x resampled from fromRate to toRate as a [length] tensor on the device,
 * computed where this adapter does it faster (resampleVariant(): the GPU's
 * float32 sum, or resample() on the host and uploaded; the host also for
 * rates the kernel cannot index, see deviceCanResample); the caller disposes it.
 */
export function resampleTensor(x: Float32Array, fromRate: number, toRate: number, opts: ResampleOptions = {}, variant = where): Tensor {
  // rates the kernel cannot index go to the host, whatever the choice
  if (variant === 'device' && deviceCanResample(x.length, fromRate, toRate, opts)) return resampleOnDevice(x, fromRate, toRate, opts);
  const y = resample(x, fromRate, toRate, opts);
  return tensor(y, [y.length]);
}

// The tuner's probe: 1 s of 44.1 kHz to 22.05 kHz, each way, ending with the
// samples on the device (where the features need them). The host must win by
// a quarter: where the two are level (lavapipe) processes then choose alike,
// the device (a ratio near 0.75 could still go either way).
let probeInput: Float32Array | null = null;
registerProbe('resample', {
  variants: ['device', 'host'],
  margin: 0.25,
  run: (v) => {
    probeInput ??= Float32Array.from({ length: 44100 }, (_, i) => 0.5 * Math.sin(0.05 * i) + 0.25 * Math.sin(1.7 * i));
    resampleTensor(probeInput, 44100, 22050, {}, v as ResampleVariant).dispose();
  },
  select: (v) => setResampleVariant(v as ResampleVariant),
});
