// `sleeve features SONG.mp3 --out feats.npy [--png feats.png]`: a valid .npy
// of the stacked image (checked by parsing its header here and, where Debian's
// NumPy is installed, by numpy.load), a PNG of it, the report, and clean
// failures; and the same through the built command (bin/sleeve.js →
// dist/cli/features.js, rebuilt here by scripts/build.mjs so it is never stale),
// and that the built `sleeve cover` runs (its own tests: cover.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as decodePng } from 'fast-png';
import { runCommand, setup } from './helpers.js';
import { featuresCommand } from '../src/cli/features.node.js';
import { readNpy } from '../src/audio/npy.js';
import { extractFeatures, featureParams } from '../src/audio/features.js';
import { setTuneStore, tune } from '../runtime/index.js';
import { fileTuneStore } from '../runtime/io/tune_store.node.js';

const SONG = 'test/fixtures/audio/sig_48k_stereo_vbr.mp3';
let dir: string;

beforeAll(async () => {
  await setup();
  dir = mkdtempSync(join(tmpdir(), 'sleeve-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the command, capturing what it prints. */
const run = (argv: string[]) => runCommand(featuresCommand, argv);

describe('sleeve features', () => {
  it('writes the image as float32 .npy [128, frames] and a PNG, and reports slices and parameters', async () => {
    const npyPath = join(dir, 'feats.npy'), pngPath = join(dir, 'feats.png');
    const r = await run([SONG, '--out', npyPath, '--png', pngPath]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const bytes = new Uint8Array(readFileSync(npyPath));
    const hlen = bytes[8] | (bytes[9] << 8);
    expect(bytes[0]).toBe(0x93);
    expect(new TextDecoder().decode(bytes.subarray(1, 6))).toBe('NUMPY');
    expect(new TextDecoder().decode(bytes.subarray(10, 10 + hlen))).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(128, 259\), \} *\n$/);
    const a = readNpy(bytes);
    expect(a.shape).toEqual([128, 259]); // 6 s: 1 + 132300 // 512 frames
    // the same numbers as the library call
    const f = await extractFeatures(new Uint8Array(readFileSync(SONG)), SONG, featureParams());
    expect(a.data).toEqual(await f.image.read());
    f.image.dispose();
    expect(r.out).toContain(`${SONG}: 6.00 s, 48000 Hz stereo → mono 22050 Hz`);
    expect(r.out).toContain('image: 128 × 259 (64 mel bands over tempogram lags 1…64)');
    expect(r.out).toContain('slices: 1 of 258 frames every 258; the last 1 frames fall outside every slice');
    const params = JSON.parse(/^params: (.*)$/m.exec(r.out)![1]);
    expect(params).toEqual(featureParams());
    const png = decodePng(readFileSync(pngPath));
    expect([png.width, png.height, png.channels]).toEqual([259, 130, 3]); // 64 + 2-pixel rule + 64
  });

  const py = '/usr/bin/python3';
  const numpyThere = spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!numpyThere)('numpy.load reads the file (skipped without Debian python3-numpy)', async () => {
    const npyPath = join(dir, 'raw.npy');
    const r = await run([SONG, '--out', npyPath, '--raw', '--slice-hop', '1']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('slices: 2 of 258 frames every 1');
    const check = spawnSync(py, ['-c', `import numpy as np; a = np.load(${JSON.stringify(npyPath)}); print(a.dtype, a.shape, round(float(a[:64].max()), 1) <= 60, float(a[64:].max()) <= 1.0)`]);
    expect(check.status, String(check.stderr)).toBe(0);
    // raw: the mel block in dB (ref 1), the tempogram as computed
    expect(String(check.stdout).trim()).toBe('float32 (128, 259) True True');
  });

  it('prints --json reports and honours --params', async () => {
    const npyPath = join(dir, 'small.npy');
    const paramsPath = join(dir, 'params.json');
    await import('node:fs').then((fs) => fs.writeFileSync(paramsPath, JSON.stringify({ mel: { nMels: 32 }, image: { nLags: 16 } })));
    const r = await run([SONG, '--out', npyPath, '--params', paramsPath, '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.shape).toEqual([48, 259]);
    expect(rep.params.mel.nMels).toBe(32);
    expect(readNpy(new Uint8Array(readFileSync(npyPath))).shape).toEqual([48, 259]);
  });

  it('fails with one clear line and a non-zero code, writing nothing', async () => {
    const out = join(dir, 'never.npy');
    const bad = await run([join(dir, 'nope.mp3'), '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^sleeve: .*nope\.mp3: no such file$/);
    const notMp3 = await run(['package.json', '--out', out]);
    expect(notMp3.code).toBe(1);
    expect(notMp3.err).toMatch(/^sleeve: package\.json: is text \("\{/);
    expect(existsSync(out)).toBe(false);
    expect((await run([SONG])).err).toMatch(/--out FEATS\.npy is required/);
    expect((await run(['--out', out])).code).toBe(2);
    expect((await run([SONG, '--out', out, '--slice-hop', '0'])).err).toMatch(/--slice-hop must be a positive integer/);
    expect((await run([SONG, '--out', out, '--bogus'])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: sleeve features SONG\.mp3 --out FEATS\.npy/);
  });
});

describe('bin/sleeve.js features (the built command)', () => {
  // The child reads the kernel choices this process measured (a tune store in
  // a scratch folder): each process measuring its own can pick another
  // resampler when two are near in speed, and their last bits differ.
  const tuneDir = mkdtempSync(join(tmpdir(), 'sleeve-cli-tune-'));
  const env = { ...process.env, SLEEVE_TUNE_CACHE: 'on', SLEEVE_CACHE_DIR: tuneDir };
  const sleeve = (...args: string[]) => spawnSync(process.execPath, ['bin/sleeve.js', ...args], { encoding: 'utf8', timeout: 60_000, env });
  // Dawn prints these adapter-limit notices on stderr whenever a device is made
  const dawnNotice = /^Warning: max\w+ artificially reduced/;
  const errLines = (stderr: string) => stderr.split('\n').filter((l) => l && !dawnNotice.test(l));

  beforeAll(async () => {
    const b = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8', timeout: 120_000 });
    expect(b.status, b.stderr).toBe(0);
    setTuneStore(fileTuneStore(tuneDir));
    try {
      await tune({ fresh: true }); // measured here, kept where the child looks
    } finally {
      setTuneStore(null);
    }
  });
  afterAll(() => rmSync(tuneDir, { recursive: true, force: true }));

  it('writes the same .npy as the library call, a PNG, and the report; lists the command in its help', async () => {
    const npyPath = join(dir, 'bin.npy'), pngPath = join(dir, 'bin.png');
    const r = sleeve('features', SONG, '--out', npyPath, '--png', pngPath);
    expect(errLines(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('slices: 1 of 258 frames every 258');
    expect(JSON.parse(/^params: (.*)$/m.exec(r.stdout)![1])).toEqual(featureParams());
    const a = readNpy(new Uint8Array(readFileSync(npyPath)));
    expect(a.shape).toEqual([128, 259]);
    const f = await extractFeatures(new Uint8Array(readFileSync(SONG)), SONG, featureParams());
    expect(a.data).toEqual(await f.image.read());
    f.image.dispose();
    // the child reused this process's choices rather than measuring its own
    expect(Object.keys(JSON.parse(readFileSync(join(tuneDir, 'tune.json'), 'utf8')))).toHaveLength(1);
    const png = decodePng(readFileSync(pngPath));
    expect([png.width, png.height]).toEqual([259, 130]);
    expect(sleeve('--help').stdout).toMatch(/^ {2}features {6}SONG\.mp3 --out FEATS\.npy/m);
  });

  it('a missing file or a directory: one clear line, exit 1', () => {
    const out = join(dir, 'bin-never.npy');
    for (const [input, why] of [[join(dir, 'missing.mp3'), 'no such file'], ['test/fixtures', 'is a directory, not an MP3 file']]) {
      const r = sleeve('features', input, '--out', out);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(errLines(r.stderr)).toEqual([`sleeve: ${input}: ${why}`]);
    }
    expect(existsSync(out)).toBe(false);
    expect(sleeve('features', SONG).status).toBe(2); // no --out
  });

  it('cover: the built command paints a 100 × 100 PNG and is listed in the help', () => {
    const pngPath = join(dir, 'bin-cover.png');
    const r = sleeve('cover', SONG, '--out', pngPath, '--untrained', '--json');
    expect(errLines(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).slices).toBe(1);
    const png = decodePng(readFileSync(pngPath));
    expect([png.width, png.height, png.channels]).toEqual([100, 100, 3]);
    expect(sleeve('--help').stdout).toMatch(/^ {2}cover {9}SONG\.mp3 --out COVER\.png/m);
    const none = sleeve('cover', SONG, '--out', pngPath + '.x');
    expect(none.status).toBe(2);
    expect(existsSync(pngPath + '.x')).toBe(false);
  });
});
