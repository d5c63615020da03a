// CPU-side audio pieces: the resampler against scipy.signal.resample_poly on
// a chirp (fixtures from test/ref/audio_ref.py), its band limit, the mel
// scale, and .npy bytes.
//
// Resampler tolerance: |Δ| ≤ 2e-6 (the chirp's amplitude is 0.5; the filter and
// the alignment are scipy's own, so only float rounding can differ: both sum
// in f64 and round to f32): measured 0, bit-identical, for all five rates.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { designLowpass, resample } from '../src/audio/resample.js';
import { hzToMel, melFilterbank, melToHz } from '../src/audio/mel.js';
import { readNpy, writeNpy } from '../src/audio/npy.js';
import { frameCount, hannPeriodic } from '../src/audio/stft.js';
import { resampleInput, SR } from './ref/audio_signals.js';

const FIX = 'test/fixtures/audio';
const meta = JSON.parse(readFileSync(`${FIX}/meta.json`, 'utf8'));
const npy = (name: string) => readNpy(new Uint8Array(readFileSync(`${FIX}/${name}.npy`)));

describe('resampler vs scipy.signal.resample_poly', () => {
  it.each(['r44100', 'r48000', 'r32000', 'r16000', 'r11025'])('%s → 22050 Hz on a chirp', (name) => {
    const m = meta[name];
    const x = resampleInput(m.rate, m.seconds);
    const y = resample(x, m.rate, SR);
    const ref = npy(`${name}.resampled`).data;
    expect(y.length).toBe(m.out_len);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(y[i] - ref[i]));
    console.log(`${name}: up ${m.up} down ${m.down}, max |Δ| ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(2e-6);
  });

  it('is band-limited: a tone above the new Nyquist is removed, one below kept (unlike linear interpolation)', () => {
    const rate = 44100, n = rate;
    const tone = (f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / rate));
    const rms = (a: Float32Array) => Math.sqrt(a.subarray(2000, a.length - 2000).reduce((s, v) => s + v * v, 0) / (a.length - 4000));
    const above = rms(resample(tone(14000), rate, SR)); // would alias to 8050 Hz
    const below = rms(resample(tone(5000), rate, SR));
    expect(20 * Math.log10(above / below)).toBeLessThan(-45);
    expect(below).toBeCloseTo(Math.SQRT1_2, 2); // Kaiser β 5 passband ripple ~0.1%
  });

  it('designs a unit-DC-gain low-pass and leaves equal rates alone', () => {
    const h = designLowpass(147, 320);
    expect(h.length).toBe(2 * 10 * 320 + 1);
    expect(h.reduce((a, b) => a + b, 0)).toBeCloseTo(147, 9);
    const x = Float32Array.from([1, 2, 3]);
    expect(resample(x, 22050, 22050)).toBe(x);
    expect(() => resample(x, 0, 22050)).toThrow(/positive integers/);
  });
});

describe('mel scale, window, frames', () => {
  it('Slaney mel: linear to 1 kHz (15 mels), logarithmic above; HTK on request; inverse of each other', () => {
    expect(hzToMel(1000)).toBeCloseTo(15, 12);
    expect(hzToMel(200)).toBeCloseTo(3, 12);
    expect(hzToMel(6400)).toBeCloseTo(15 + 27, 12);
    for (const f of [0, 123, 999, 1000, 4567, 11025]) {
      expect(melToHz(hzToMel(f))).toBeCloseTo(f, 8);
      expect(melToHz(hzToMel(f, true), true)).toBeCloseTo(f, 8);
    }
    expect(hzToMel(700, true)).toBeCloseTo(2595 * Math.log10(2), 10);
    const fb = melFilterbank({ sampleRate: 22050, nFft: 2048, nMels: 40, fmin: 300, fmax: 8000, htk: true, norm: null });
    expect(Math.max(...fb)).toBeLessThanOrEqual(1);
    expect(fb.every((v) => v >= 0)).toBe(true);
  });

  it('periodic Hann and centred frame counts', () => {
    const w = hannPeriodic(8);
    expect(Array.from(w).map((v) => +v.toFixed(12))).toEqual([0, 0.146446609407, 0.5, 0.853553390593, 1, 0.853553390593, 0.5, 0.146446609407]);
    const o = { nFft: 2048, hop: 512, window: 'hann' as const, center: true };
    expect(frameCount(661500, o)).toBe(1 + Math.floor(661500 / 512)); // librosa: 1 + len // hop
    expect(frameCount(10, o)).toBe(1);
    expect(frameCount(1000, { ...o, center: false })).toBe(0);
  });
});

describe('.npy', () => {
  it('writes a 64-byte-aligned version 1.0 header and reads it back', () => {
    const data = Float32Array.from({ length: 3 * 5 }, (_, i) => i * 0.5 - 3);
    const bytes = writeNpy(data, [3, 5]);
    const hlen = bytes[8] | (bytes[9] << 8);
    expect((10 + hlen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 5\), \} *\n$/);
    const back = readNpy(bytes);
    expect(back.shape).toEqual([3, 5]);
    expect(back.dtype).toBe('<f4');
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(readNpy(writeNpy(Float32Array.from([7]), [1])).shape).toEqual([1]);
    expect(() => writeNpy(data, [4, 4])).toThrow(/do not fill/);
    expect(() => readNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toThrow(/bad magic/);
  });

  const py = '/usr/bin/python3';
  const numpyThere = spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!numpyThere)('NumPy itself loads what writeNpy wrote (skipped without Debian python3-numpy)', () => {
    const data = Float32Array.from({ length: 2 * 3 }, (_, i) => i / 4);
    const bytes = writeNpy(data, [2, 3]);
    const r = spawnSync(py, ['-c', 'import sys, io, numpy as np; a = np.load(io.BytesIO(sys.stdin.buffer.read())); print(a.dtype, a.shape, a.ravel().tolist())'], { input: bytes });
    expect(r.status, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('float32 (2, 3) [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]');
  });
});
