// Deterministic bench inputs that Python can rebuild bit for bit: element i of
// a tensor with seed s is an integer hash of (i, s) mapped to a multiple of
// 2⁻²³ in [-1, 1), then scaled in f32. torch_bench.py implements the same
// hash, so every engine sees identical inputs and samples can be compared.
import { hostRandom } from '../runtime/ops/random.js';

const TWO24 = 16777216;
const SEED_MUL = 0x9e3779b1;

function hashU24(i: number, s: number): number {
  let h = (i + s) >>> 0;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x297a2d39) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  return h >>> 8;
}

/** Seed offset as Python computes it: (seed · 0x9E3779B1) mod 2³². */
export function seedOffset(seed: number): number {
  return Math.imul(seed, SEED_MUL) >>> 0;
}

/** n values uniform in [-scale, scale) (kind 'sym') or [0, 1) (kind 'unit'). */
export function gen(seed: number, n: number, scale = 1, kind: 'sym' | 'unit' = 'sym'): Float32Array {
  const out = new Float32Array(n);
  const s = seedOffset(seed);
  const sf = Math.fround(scale);
  for (let i = 0; i < n; i++) {
    const k = hashU24(i, s);
    const v = kind === 'unit' ? k / TWO24 : (2 * k - TWO24) / TWO24;
    out[i] = sf * v; // both factors are f32, the product rounds once (as in torch)
  }
  return out;
}

/** Triangle wave of phase p (cycles): 4·|p − round(p)| − 1, in [−1, 1]. */
const tri = (p: number) => 4 * Math.abs(p - Math.floor(p + 0.5)) - 1;
/** A minor pentatonic, A3…D5 (Hz), and a four-chord loop (Am F C G). */
const MELODY = [220, 261.63, 293.66, 329.63, 392, 440, 523.25, 587.33];
const CHORDS = [[110, 130.81, 164.81], [87.31, 110, 130.81], [130.81, 164.81, 196], [98, 123.47, 146.83]];

/**
 * n samples of a deterministic music-like mix at `rate` Hz (a multiple of 4),
 * 120 BPM: a kick (a decaying 55 Hz triangle) on every beat, a hi-hat (a 30 ms
 * burst of the seed's noise) on every off-beat, a triangle-wave melody of
 * eighth notes, a three-note triangle pad that changes chord every bar, and
 * uniform noise ≈ 19 dB under the mix (seed + 1); 0.25 s of silence first and
 * a 2 s fade-out at the end (quiet frames reach power_to_db's top_db floor,
 * as a real track's do). Only +, −, ×, /, floor, abs
 * and min on f64, then one rounding to f32: IEEE makes each exact, so
 * torch_bench.py's music() (the same operations in the same order) rebuilds
 * it bit for bit.
 */
export function music(n: number, rate: number, seed: number): Float32Array {
  const hat = gen(seed, n), hiss = gen(seed + 1, n);
  const beat = Math.floor(rate / 2), eighth = Math.floor(rate / 4), bar = 4 * beat;
  const kickLen = Math.floor((rate * 3) / 20), hatLen = Math.floor((rate * 3) / 100), attack = Math.floor(rate / 100);
  const lead = Math.floor(rate / 4), fade = 2 * rate;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pos = i - Math.floor(i / beat) * beat;
    const e = 1 - pos / kickLen;
    const kick = pos < kickLen ? 0.45 * e * e * tri((55 * pos) / rate) : 0;
    const hpos = (i + eighth) % beat;
    const hh = hpos < hatLen ? 0.12 * (1 - hpos / hatLen) * hat[i] : 0;
    const q = Math.floor(i / eighth);
    const qpos = i - q * eighth;
    const f = MELODY[(5 * q + 2 * Math.floor(q / 8)) % 8];
    const d = 1 - qpos / eighth;
    const mel = 0.2 * Math.min(1, qpos / attack) * d * d * tri((f * qpos) / rate);
    const c = CHORDS[Math.floor(i / bar) % 4];
    const pad = 0.06 * (tri((c[0] * i) / rate) + tri((c[1] * i) / rate) + tri((c[2] * i) / rate));
    // 0.25 s of digital silence before it comes in, and a 2 s linear fade-out
    const gain = i < lead ? 0 : i >= n - fade ? (n - i) / fade : 1;
    out[i] = (kick + hh + mel + pad + 0.02 * hiss[i]) * gain;
  }
  return out;
}

/** A small seeded PRNG for picking sample positions (never for data). */
export const mulberry = hostRandom;

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** `count` distinct flat indices into a tensor of `shape` (always including the first and last). */
export function sampleIndices(shape: readonly number[], count: number, seed: number): number[] {
  const n = prod(shape);
  const r = mulberry(seed);
  const set = new Set<number>([0, n - 1]);
  while (set.size < Math.min(count, n)) set.add(Math.floor(r() * n));
  return [...set].sort((a, b) => a - b);
}

export function unflat(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function flat(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + c[d];
  return i;
}

/**
 * A tensor stored with its axes permuted: stored axis k is logical axis
 * perm[k] (NCHW → NHWC is [0, 2, 3, 1]; torch's [Cout, Cin, kh, kw] →
 * tfjs's [kh, kw, Cin, Cout] is [2, 3, 1, 0]).
 */
export function permute(src: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  const stored = perm.map((p) => shape[p]);
  const rank = shape.length;
  // stride, in the source, of each stored axis
  const srcStrides = new Array<number>(rank);
  let acc = 1;
  for (let d = rank - 1; d >= 0; d--) {
    srcStrides[d] = acc;
    acc *= shape[d];
  }
  const st = perm.map((p) => srcStrides[p]);
  const idx = new Array<number>(rank).fill(0);
  let srcOff = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = src[srcOff];
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      srcOff += st[k];
      if (idx[k] < stored[k]) break;
      srcOff -= st[k] * stored[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** Values at logical flat indices of a tensor stored permuted (perm as in permute()). */
export function pick(data: ArrayLike<number>, shape: readonly number[], idx: readonly number[], perm?: readonly number[]): number[] {
  if (!perm) return idx.map((i) => data[i]);
  const stored = perm.map((p) => shape[p]);
  return idx.map((i) => {
    const c = unflat(i, shape);
    return data[flat(perm.map((p) => c[p]), stored)];
  });
}
