// Real music for the feature tests: GTZAN clips from ../shared/data/gtzan-mini,
// decoded by sleeve, with the NumPy reference (audio_ref.py `case`) run on the
// decoded PCM at test time. GTZAN may not be redistributed, so neither the
// clips nor anything computed from them is committed; without the data or
// Debian's python3-numpy/python3-scipy the comparison is skipped, saying why.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMp3, toMono } from '../../src/audio/decode.js';
import { resample } from '../../src/audio/resample.js';
import { readNpy, writeNpy, type NpyArray } from '../../src/audio/npy.js';
import { GTZAN_CLIPS, GTZAN_SECONDS, SR } from './audio_signals.js';

export const GTZAN_DIR = '../shared/data/gtzan-mini';
export const PYTHON = '/usr/bin/python3';
const REF = 'test/ref/audio_ref.py';

/** Why the real-music comparison cannot run here, or null when it can. */
export function realMusicSkipReason(): string | null {
  const missing = GTZAN_CLIPS.find((c) => !existsSync(join(GTZAN_DIR, c)));
  if (missing) return `${join(GTZAN_DIR, missing)} is absent (real music lives beside the project, never in it)`;
  if (!existsSync(PYTHON)) return `${PYTHON} is absent (the NumPy reference needs Debian's python3 with python3-numpy and python3-scipy)`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy, scipy.signal, scipy.ndimage'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').pop() || r.error?.message || `exit ${r.status}`;
    return `${PYTHON} cannot import numpy and scipy (apt-get install python3-numpy python3-scipy): ${why}`;
  }
  return null;
}

/** 'blues/blues.00000.mp3' → 'gtzan_blues_00000' */
export const realClipName = (clip: string) => 'gtzan_' + clip.split('/').pop()!.replace(/\.mp3$/, '').replace(/\./g, '_');

/** The first GTZAN_SECONDS of a clip as the pipeline sees it: decoded, mono, at 22,050 Hz. */
export async function realClipPcm(clip: string): Promise<Float32Array> {
  const d = await decodeMp3(new Uint8Array(readFileSync(join(GTZAN_DIR, clip))), clip);
  return resample(toMono(d.channels), d.sampleRate, SR).subarray(0, GTZAN_SECONDS * SR);
}

export interface ReferenceSet {
  /** audio_ref.py's record per case: samples, frames, spec_frames, pcm_sum, pcm_sumsq */
  meta: Record<string, any>;
  npy(name: string): NpyArray;
}

/** Writes each PCM to `dir` as float32 .npy, runs the reference on them all in one process, and reads back what it wrote. */
export async function runReference(cases: { name: string; pcm: Float32Array }[], dir: string, timeoutMs: number): Promise<ReferenceSet> {
  const paths = cases.map(({ name, pcm }) => {
    const p = join(dir, `${name}.npy`);
    writeFileSync(p, writeNpy(Float32Array.from(pcm), [pcm.length]));
    return p;
  });
  const out = join(dir, 'ref');
  await new Promise<void>((resolve, reject) => {
    execFile(PYTHON, [REF, 'case', out, ...paths], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = err.killed ? `killed after ${timeoutMs} ms` : String(stderr).trim().split('\n').pop() || err.message;
      reject(new Error(`${PYTHON} ${REF} case failed: ${why}`));
    });
  });
  return {
    meta: JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')),
    npy: (name) => readNpy(new Uint8Array(readFileSync(join(out, `${name}.npy`)))),
  };
}
