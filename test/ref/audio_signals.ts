// Synthetic test signals, written to match test/ref/audio_ref.py's
// generators operation for operation (same formulas, same evaluation order),
// so both sides see the same float32 samples. Fixture metadata records each
// signal's sum and sum of squares; the tests check them before comparing.

export const SR = 22050;

export function tone(f = 440, seconds = 2, sr = SR, amp = 0.5): Float32Array {
  const n = Math.round(seconds * sr);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = amp * Math.sin((2 * Math.PI * f * i) / sr);
  return y;
}

/** A 1 kHz burst of 220 samples (10 ms) with a linear decay at every beat. */
export function clicks(bpm = 120, seconds = 10, sr = SR): Float32Array {
  const n = Math.round(seconds * sr);
  const y = new Float64Array(n);
  const period = (60 * sr) / bpm;
  const burst = 220;
  for (let beat = 0; ; beat++) {
    const start = Math.round(beat * period);
    if (start >= n) break;
    for (let k = 0; k < burst && start + k < n; k++) y[start + k] += 0.8 * ((1 - k / burst) * Math.sin((2 * Math.PI * 1000 * k) / sr));
  }
  return Float32Array.from(y);
}

/** Exponential sweep f0 → f1 Hz over `seconds`. */
export function chirp(f0: number, f1: number, seconds: number, sr: number, amp = 0.5): Float64Array {
  const n = Math.round(seconds * sr);
  const L = seconds / Math.log(f1 / f0);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = amp * Math.sin(2 * Math.PI * f0 * L * (Math.exp(i / sr / L) - 1));
  return y;
}

/** A chirp under two steady tones. */
export function mix(seconds = 3, sr = SR): Float32Array {
  const c = chirp(60, 9000, seconds, sr, 0.3);
  const y = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) y[i] = c[i] + 0.2 * Math.sin((2 * Math.PI * 220 * i) / sr) + 0.1 * Math.sin((2 * Math.PI * 3150 * i) / sr);
  return y;
}

export const SYNTHETIC: Record<string, () => Float32Array> = {
  tone440: () => tone(),
  clicks120: () => clicks(),
  mix: () => mix(),
};

/** The resampler's test input: a chirp from 50 Hz to 0.45·rate. */
export function resampleInput(rate: number, seconds: number): Float32Array {
  return Float32Array.from(chirp(50, 0.45 * rate, seconds, rate));
}

/** The real clips (in ../shared/data/gtzan-mini) compared with the reference run at test time (first 10 s of each). */
export const GTZAN_CLIPS = ['blues/blues.00000.mp3', 'disco/disco.00002.mp3'];
export const GTZAN_SECONDS = 10;
