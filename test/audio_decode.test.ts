// MP3 input: bad files become one clear line naming the file and the problem
// (or, for a truncated stream, a warning with the decoded length), never a
// hang, a crash or decoder noise on the console; good files of every common
// shape (44.1 kHz stereo, 48 kHz, 22.05 kHz mono, VBR, CBR, a big cover
// picture in the ID3 tag) give the same features for the same audio.
//
// The format MP3s are one 6 s signal (notes, 120 BPM clicks; stereo files
// carry s ± d so their mixdown is the mono file's s) encoded by LAME, all with
// the same 9 kHz lowpass, VBR at -V 0 (test/ref/make_audio_fixtures.sh).
// Against the 44.1 kHz stereo CBR file, on the normalised image (1 unit = 80 dB
// in the mel block); what differs is the codec's own noise:
//   mel block       mean |Δ| ≤ 0.005 (0.4 dB)  measured ≤ 0.0014
//                   99th percentile ≤ 0.05     measured ≤ 0.034 (quiet bands between partials)
//   tempogram block mean |Δ| ≤ 0.002          measured ≤ 0.0004
//                   max |Δ| ≤ 0.02            measured ≤ 0.0047
// The same MP3 with a 600 KB cover picture in its ID3v2 tag (and an ID3v1 tag
// at the end) must give exactly the same image.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { rng, setup } from './helpers.js';
import { decodeMp3, toMono } from '../src/audio/decode.js';
import { readAudioFile } from '../src/audio/file.node.js';
import { AudioFileError, id3v2Size, inspectMpeg, parseHeader } from '../src/audio/validate.js';
import { extractFeatures, featureParams } from '../src/audio/features.js';

// Count decoders made and freed (the wrapper changes nothing else).
const counts = vi.hoisted(() => ({ created: 0, freed: 0 }));
vi.mock('mpg123-decoder', async (importOriginal) => {
  const mod = await importOriginal<typeof import('mpg123-decoder')>();
  const Base = mod.MPEGDecoder as unknown as new (o?: object) => { free: () => void };
  class Counting extends Base {
    constructor(o?: object) {
      super(o);
      counts.created++;
      const free = this.free;
      this.free = () => {
        counts.freed++;
        free();
      };
    }
  }
  return { ...mod, MPEGDecoder: Counting };
});

const FIX = 'test/fixtures/audio';
const CBR44 = new Uint8Array(readFileSync(`${FIX}/sig_44k_stereo_cbr192.mp3`));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sleeve-audio-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** An ID3v2.3 tag holding a title and a cover picture of `pictureBytes` pseudo-random bytes. */
function id3WithPicture(pictureBytes: number, seed = 5): Uint8Array {
  const r = rng(seed);
  const frame = (id: string, body: Uint8Array) => {
    const h = new Uint8Array(10 + body.length);
    h.set([...id].map((c) => c.charCodeAt(0)), 0);
    new DataView(h.buffer).setUint32(4, body.length);
    h.set(body, 10);
    return h;
  };
  const text = (s: string) => Uint8Array.from([0, ...[...s].map((c) => c.charCodeAt(0))]);
  const pic = new Uint8Array(pictureBytes);
  for (let i = 0; i < pic.length; i++) pic[i] = Math.floor(r() * 256); // MPEG-sync-like bytes included
  pic.set([0xff, 0xd8, 0xff, 0xe0], 0);
  const head = [0, ...[...'image/jpeg'].map((c) => c.charCodeAt(0)), 0, 3, 0];
  const apic = frame('APIC', Uint8Array.from([...head, ...pic]));
  const tit2 = frame('TIT2', text('Test signal'));
  const body = new Uint8Array(tit2.length + apic.length + 512); // 512 bytes of padding
  body.set(tit2, 0);
  body.set(apic, tit2.length);
  const n = body.length;
  const tag = new Uint8Array(10 + n);
  tag.set([0x49, 0x44, 0x33, 3, 0, 0, (n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f], 0);
  tag.set(body, 10);
  return tag;
}

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** A valid little WAV file (1 s of a tone, 16-bit mono). */
function wav(): Uint8Array {
  const sr = 8000, n = sr;
  const b = new Uint8Array(44 + 2 * n);
  const dv = new DataView(b.buffer);
  const str = (o: number, s: string) => [...s].forEach((c, i) => (b[o + i] = c.charCodeAt(0)));
  str(0, 'RIFF');
  dv.setUint32(4, 36 + 2 * n, true);
  str(8, 'WAVEfmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, 1, true);
  dv.setUint32(24, sr, true);
  dv.setUint32(28, 2 * sr, true);
  dv.setUint16(32, 2, true);
  dv.setUint16(34, 16, true);
  str(36, 'data');
  dv.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) dv.setInt16(44 + 2 * i, Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / sr)), true);
  return b;
}

/** Read + decode as the CLI does, with the console watched. */
async function load(path: string) {
  const spies = (['log', 'warn', 'error', 'info', 'debug'] as const).map((k) => vi.spyOn(console, k));
  try {
    return await decodeMp3(await readAudioFile(path), path);
  } finally {
    for (const s of spies) {
      expect(s, `console.${s.getMockName()} was called`).not.toHaveBeenCalled();
      s.mockRestore();
    }
  }
}

describe('bad input: one clear line naming the file and the problem', () => {
  const r = rng(11);
  const random = Uint8Array.from({ length: 64 * 1024 }, () => Math.floor(r() * 256));
  const cases: [string, () => string, RegExp][] = [
    ['an empty file', () => put('empty.mp3', new Uint8Array(0)), /empty\.mp3: file is empty \(0 bytes\)/],
    ['an ID3-only file', () => put('id3only.mp3', id3WithPicture(2000)), /id3only\.mp3: contains only an ID3v2 tag \(\d+ bytes\) and no MPEG audio frames/],
    ['a 300-byte truncation', () => put('cut300.mp3', CBR44.subarray(0, 300)), /cut300\.mp3: is truncated: its 300 bytes end inside the first MPEG frame/],
    ['a 300-byte truncation of a file with a big tag', () => put('cut300tag.mp3', cat(id3WithPicture(5000), CBR44).subarray(0, 300)), /cut300tag\.mp3: ID3v2 tag claims \d+ bytes but the file has only 300/],
    ['random bytes', () => put('random.mp3', random), /random\.mp3: is not MP3: no ID3v2 tag and no MPEG audio frame sync at the start \(first bytes: [0-9a-f ]+\)/],
    ['a WAV renamed .mp3', () => put('wav.mp3', wav()), /wav\.mp3: is a WAV file \(RIFF\/WAVE header\), not MP3/],
    ['a PNG renamed .mp3', () => put('png.mp3', encodePng({ width: 4, height: 4, data: new Uint8Array(48), channels: 3 })), /png\.mp3: is a PNG image, not MP3/],
    ['a text file renamed .mp3', () => put('text.mp3', 'These are not the bytes you are looking for.\n'), /text\.mp3: is text \("These are not the bytes/],
    ['an ID3 tag followed by text', () => put('id3text.mp3', cat(id3WithPicture(100), new TextEncoder().encode('hello, this is not audio at all'))), /id3text\.mp3: has an ID3v2 tag \(\d+ bytes\) but no MPEG audio frame after it/],
    ['a 0-length path', () => '', /sleeve: "": no input file: the path is empty/],
    ['a directory', () => (mkdirSync(join(dir, 'folder.mp3'), { recursive: true }), join(dir, 'folder.mp3')), /folder\.mp3: is a directory, not an MP3 file/],
    ['a missing file', () => join(dir, 'missing.mp3'), /missing\.mp3: no such file/],
  ];
  it.each(cases)('%s', async (_, make, msg) => {
    const path = make();
    const err = await load(path).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AudioFileError);
    const m = (err as Error).message;
    expect(m).toMatch(/^sleeve: /);
    expect(m).not.toContain('\n');
    expect(m).toMatch(msg);
  });

  it('a 100 KB truncation decodes what is there and warns with the decoded length', async () => {
    const full = await load(put('full.mp3', CBR44));
    const cut = await load(put('cut100k.mp3', CBR44.subarray(0, 100 * 1024)));
    expect(full.warnings).toEqual([]);
    expect(cut.warnings).toHaveLength(1);
    const w = cut.warnings[0];
    expect(w).toMatch(/cut100k\.mp3: looks truncated: (the last frame is cut short \(\d+ of \d+ bytes\); )?\d+ of the \d+ frames its Xing\/Info header promises are present; decoded (\d+\.\d\d) s; complete, it would be 6\.\d\d s$/);
    const decoded = Number(/decoded (\d+\.\d\d) s/.exec(w)![1]);
    expect(decoded).toBeCloseTo(cut.length / cut.sampleRate, 2);
    expect(decoded).toBeGreaterThan(4);
    expect(decoded).toBeLessThan(full.length / full.sampleRate);
    // what was decoded is the start of the full decode
    const n = Math.floor(cut.length * 0.9);
    let d = 0;
    for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(cut.channels[0][i] - full.channels[0][i]));
    expect(d).toBeLessThan(1e-6);
  });

  it('junk inside the stream is skipped with a warning, the decoder kept quiet', async () => {
    const r2 = rng(3);
    const junk = Uint8Array.from({ length: 3000 }, () => Math.floor(r2() * 256));
    const bytes = cat(CBR44.subarray(0, 50_000), junk, CBR44.subarray(50_000));
    const a = await load(put('junk.mp3', bytes));
    expect(a.warnings.join(' ')).toMatch(/junk\.mp3: \d+ bytes inside the stream are not MPEG frames and were skipped/);
    expect(a.length / a.sampleRate).toBeGreaterThan(5.5);
  });

  it('every decoder made was freed', () => {
    expect(counts.created).toBeGreaterThan(0);
    expect(counts.freed).toBe(counts.created);
  });
});

describe('stream parsing', () => {
  it('reads frame headers, ID3v2 sizes and the Xing/Info frame count', () => {
    const h = parseHeader(CBR44, 0)!;
    expect(h).toMatchObject({ version: 1, layer: 3, bitrate: 192, sampleRate: 44100, channels: 2 });
    expect(h.frameBytes).toBe(Math.floor((144 * 192000) / 44100) + h.padding);
    const info = inspectMpeg(CBR44, 'x');
    expect(info.tagFrame).toBe(true);
    expect(info.frames - 1).toBe(info.promisedFrames);
    expect(info.truncated).toBeNull();
    expect(info.vbr).toBe(false);
    const vbr = inspectMpeg(new Uint8Array(readFileSync(`${FIX}/sig_48k_stereo_vbr.mp3`)), 'y');
    expect(vbr.vbr).toBe(true);
    expect(vbr.first.sampleRate).toBe(48000);
    const tag = id3WithPicture(1000);
    expect(id3v2Size(tag, 0)).toBe(tag.length);
    expect(parseHeader(Uint8Array.from([0xff, 0xfb, 0xf0, 0x00]), 0)).toBeNull(); // bitrate index 15
    expect(parseHeader(Uint8Array.from([0xff, 0xfb, 0x9c, 0x00]), 0)).toBeNull(); // sample-rate index 3
  });

  it('mono mixdown is the mean of the channels', () => {
    const m = toMono([Float32Array.from([1, 0.5, -1]), Float32Array.from([0, 0.5, 1])]);
    expect(Array.from(m)).toEqual([0.5, 0.5, 0]);
    const one = Float32Array.from([0.25]);
    expect(toMono([one])).toBe(one);
  });
});

describe('the same audio in every common shape gives the same features', () => {
  beforeAll(setup);
  const p = featureParams();
  const files = ['sig_48k_stereo_vbr.mp3', 'sig_22k_mono_cbr64.mp3', 'sig_22k_mono_vbr.mp3', 'big ID3 picture + ID3v1'];
  let ref: { data: Float32Array; frames: number };

  async function image(bytes: Uint8Array, name: string) {
    const f = await extractFeatures(bytes, name, p);
    const data = await f.image.read();
    f.image.dispose();
    return { data, frames: f.frames, f };
  }

  beforeAll(async () => {
    ref = await image(CBR44, 'sig_44k_stereo_cbr192.mp3');
  });

  it.each(files)('%s', async (name) => {
    let bytes: Uint8Array;
    if (name.startsWith('big')) {
      const v1 = new Uint8Array(128);
      v1.set([0x54, 0x41, 0x47]); // "TAG"
      bytes = cat(id3WithPicture(600 * 1024), CBR44, v1);
    } else bytes = new Uint8Array(readFileSync(`${FIX}/${name}`));
    const got = await image(bytes, name);
    expect(got.f.warnings).toEqual([]);
    if (name.startsWith('big')) {
      expect(got.f.info.tagBytes).toBeGreaterThan(600 * 1024);
      expect(got.f.info.trailer).toBe('ID3v1');
      expect(got.data).toEqual(ref.data); // the tags change nothing at all
      return;
    }
    expect(got.frames).toBe(ref.frames);
    const T = ref.frames, nm = p.mel.nMels;
    const mel: number[] = [];
    let tgSum = 0, tgMax = 0;
    for (let i = 0; i < got.data.length; i++) {
      const d = Math.abs(got.data[i] - ref.data[i]);
      if (i < nm * T) mel.push(d);
      else {
        tgSum += d;
        tgMax = Math.max(tgMax, d);
      }
    }
    mel.sort((a, b) => a - b);
    const melMean = mel.reduce((a, b) => a + b, 0) / mel.length;
    const melP99 = mel[Math.floor(0.99 * mel.length)];
    const tgMean = tgSum / (got.data.length - nm * T);
    console.log(`${name} vs 44.1 kHz stereo CBR: mel mean ${melMean.toFixed(4)} p99 ${melP99.toFixed(4)} max ${mel[mel.length - 1].toFixed(4)}; tempogram mean ${tgMean.toFixed(4)} max ${tgMax.toFixed(4)}`);
    expect(melMean).toBeLessThanOrEqual(0.005);
    expect(melP99).toBeLessThanOrEqual(0.05);
    expect(tgMean).toBeLessThanOrEqual(0.002);
    expect(tgMax).toBeLessThanOrEqual(0.02);
  });
});
