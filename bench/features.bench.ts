// Feature-pipeline benchmark: a 30 s 44.1 kHz stereo MP3 → the classifier's
// image (decode + mono + resample to 22.05 kHz + STFT + mel + onset +
// tempogram), median of several runs, against the NumPy/SciPy reference
// (test/ref/audio_ref.py: resample_poly + the same feature definitions, in
// float64) timed on the same machine. NumPy has no MP3 decoder, so the ratio
// compares what both do (resample + features); decoding is reported apart.
// Each output is checked against the reference before a time is trusted.
//
// Run (from the project root; needs `lame`, Debian's python3-numpy/scipy):
//   npx esbuild bench/features.bench.ts --bundle --platform=node --format=esm \
//     --loader:.wgsl=text --external:webgpu --external:mpg123-decoder \
//     --outfile=bench/.out/features.bench.mjs && node bench/.out/features.bench.mjs [--runs 7]
// Writes bench/.out/features.json. The clip is built from GTZAN clips in
// ../shared/data/gtzan-mini (looped to 30 s) or, without them, a synthetic mix.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as sl from '../runtime/node.js';
import { decodeMp3, toMono } from '../src/audio/decode.js';
import { resample } from '../src/audio/resample.js';
import { featureParams, featureTensors } from '../src/audio/features.js';
import { readNpy, writeNpy } from '../src/audio/npy.js';

const OUT = 'bench/.out';
const PY = '/usr/bin/python3';
const SECONDS = 30;
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function wav16(channels: Float32Array[], rate: number): Uint8Array {
  const n = channels[0].length, c = channels.length;
  const b = new Uint8Array(44 + 2 * n * c);
  const dv = new DataView(b.buffer);
  const str = (o: number, s: string) => [...s].forEach((ch, i) => (b[o + i] = ch.charCodeAt(0)));
  str(0, 'RIFF');
  dv.setUint32(4, 36 + 2 * n * c, true);
  str(8, 'WAVEfmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, c, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, 2 * rate * c, true);
  dv.setUint16(32, 2 * c, true);
  dv.setUint16(34, 16, true);
  str(36, 'data');
  dv.setUint32(40, 2 * n * c, true);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) dv.setInt16(44 + 2 * (i * c + k), Math.max(-32768, Math.min(32767, Math.round(channels[k][i] * 32767))), true);
  }
  return b;
}

/** 30 s of music at 44.1 kHz stereo, as an MP3 made by lame. */
async function makeClip(): Promise<{ path: string; source: string }> {
  const path = join(OUT, 'bench30_44k_stereo.mp3');
  const gtzan = '../shared/data/gtzan-mini';
  let mono: Float32Array;
  let source: string;
  const dirs = existsSync(gtzan) ? ['disco', 'rock'].filter((d) => existsSync(join(gtzan, d))) : [];
  if (dirs.length) {
    const parts: Float32Array[] = [];
    const names: string[] = [];
    let total = 0;
    for (let i = 0; total < SECONDS * 22050; i++) {
      const d = dirs[i % dirs.length];
      const f = readdirSync(join(gtzan, d)).filter((x) => x.endsWith('.mp3')).sort()[Math.floor(i / dirs.length)];
      const a = await decodeMp3(new Uint8Array(readFileSync(join(gtzan, d, f))), f);
      parts.push(resample(toMono(a.channels), a.sampleRate, 22050));
      names.push(f);
      total += parts[parts.length - 1].length;
    }
    mono = new Float32Array(SECONDS * 22050);
    let o = 0;
    for (const p of parts) {
      mono.set(p.subarray(0, Math.min(p.length, mono.length - o)), o);
      o += p.length;
    }
    source = `GTZAN ${names.join(' + ')}`;
  } else {
    mono = new Float32Array(SECONDS * 22050);
    for (let i = 0; i < mono.length; i++) {
      const t = i / 22050;
      mono[i] = 0.3 * Math.sin(2 * Math.PI * 220 * t) * Math.exp(-3 * (t % 0.5)) + 0.1 * Math.sin(2 * Math.PI * (300 + 100 * t) * t);
    }
    source = 'synthetic (no ../shared/data/gtzan-mini)';
  }
  const x44 = resample(mono, 22050, 44100);
  const left = x44.map((v, i) => v * 0.9 + 0.05 * Math.sin(i / 50));
  const right = x44.map((v) => v * 0.9);
  const wavPath = join(OUT, 'bench30.wav');
  writeFileSync(wavPath, wav16([left, right], 44100));
  const r = spawnSync('lame', ['--quiet', '-b', '192', wavPath, path], { stdio: 'inherit' });
  if (r.error || r.status !== 0) throw new Error(`lame failed (${r.error?.message ?? r.status}): apt-get install lame`);
  return { path, source };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const { path, source } = await makeClip();
  const bytes = new Uint8Array(readFileSync(path));
  await sl.init();
  const p = featureParams();
  const adapter = sl.adapterInfo();

  const times = { decode: [] as number[], resample: [] as number[], gpu: [] as number[], total: [] as number[] };
  let last: { mel: Float32Array; tg: Float32Array; T: number; mono44: Float32Array } | null = null;
  for (let run = 0; run <= RUNS; run++) {
    const t0 = performance.now();
    const d = await decodeMp3(bytes, path);
    const t1 = performance.now();
    const mono44 = toMono(d.channels);
    const y = resample(mono44, d.sampleRate, p.sampleRate);
    const t2 = performance.now();
    const f = featureTensors(sl.tensor(y), p);
    const image = await f.image.read();
    const t3 = performance.now();
    if (run > 0) {
      // run 0 is the warm-up (pipeline compilation, buffer pool)
      times.decode.push(t1 - t0);
      times.resample.push(t2 - t1);
      times.gpu.push(t3 - t2);
      times.total.push(t3 - t0);
    }
    if (run === RUNS) last = { mel: await f.melDb.read(), tg: await f.tempogram.read(), T: f.power.shape[0], mono44 };
    void image;
    for (const t of Object.values(f)) t.dispose();
  }

  // the NumPy reference on the same decoded PCM
  const pcmPath = join(OUT, 'bench30_mono44.npy');
  writeFileSync(pcmPath, writeNpy(last!.mono44, [last!.mono44.length]));
  const py = spawnSync(PY, ['test/ref/audio_ref.py', 'bench', pcmPath, '44100', String(RUNS), OUT], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`NumPy reference failed: ${py.stderr || py.error?.message}`);
  const ref = JSON.parse(py.stdout.trim().split('\n').pop()!);

  // check before trusting the times
  const T = last!.T;
  const melRef = readNpy(new Uint8Array(readFileSync(join(OUT, 'bench_mel_db.npy')))).data; // [64, T]
  const tgRef = readNpy(new Uint8Array(readFileSync(join(OUT, 'bench_tempogram.npy')))).data; // [65, T]
  const melOurs = new Float32Array(64 * T), tgOurs = new Float32Array(65 * T);
  for (let t = 0; t < T; t++) {
    for (let m = 0; m < 64; m++) melOurs[m * T + t] = last!.mel[t * 64 + m];
    for (let k = 0; k < 65; k++) tgOurs[k * T + t] = last!.tg[t * 65 + k]; // lags 0..nLags
  }
  const melErr = maxAbsDiff(melOurs, melRef), tgErr = maxAbsDiff(tgOurs, tgRef);
  const ok = ref.frames === T && melErr <= 0.01 && tgErr <= 1e-3;

  const ours = median(times.resample) + median(times.gpu);
  const result = {
    clip: { path, source, seconds: SECONDS, rate: 44100, channels: 2, frames: T },
    device: adapter,
    runs: RUNS,
    sleeve_ms: {
      decode: median(times.decode), mono_resample: median(times.resample), gpu_features: median(times.gpu),
      resample_plus_features: ours, total_with_decode: median(times.total),
    },
    numpy_ms: ref.ms,
    ratio_numpy_over_sleeve: ref.ms.total / ours,
    check: { ok, melMaxAbsDb: melErr, tempogramMaxAbs: tgErr },
    numpy: ref.numpy, scipy: ref.scipy,
  };
  writeFileSync(join(OUT, 'features.json'), JSON.stringify(result, null, 2));
  const f1 = (v: number) => v.toFixed(1).padStart(8);
  console.log(`features of a ${SECONDS} s 44.1 kHz stereo MP3 (${source}); ${T} frames; median of ${RUNS} runs`);
  console.log(`device: ${adapter.vendor} ${adapter.architecture} ${adapter.description}`.trim());
  console.log(`                          sleeve (ms)   NumPy/SciPy (ms)`);
  console.log(`  decode MP3           ${f1(result.sleeve_ms.decode)}          —`);
  console.log(`  mono + resample      ${f1(result.sleeve_ms.mono_resample)}     ${f1(ref.ms.resample)}`);
  console.log(`  STFT+mel+onset+tempo ${f1(result.sleeve_ms.gpu_features)}     ${f1(ref.ms.stft + ref.ms.mel + ref.ms.onset_tempogram)}   (NumPy: stft ${ref.ms.stft.toFixed(1)}, mel ${ref.ms.mel.toFixed(1)}, onset+tempogram ${ref.ms.onset_tempogram.toFixed(1)})`);
  console.log(`  resample + features  ${f1(ours)}     ${f1(ref.ms.total)}   → NumPy / sleeve = ${result.ratio_numpy_over_sleeve.toFixed(2)}×`);
  console.log(`  with decode          ${f1(result.sleeve_ms.total_with_decode)}`);
  console.log(`check vs reference: mel max |Δ| ${melErr.toExponential(2)} dB, tempogram max |Δ| ${tgErr.toExponential(2)} → ${ok ? 'ok' : 'MISMATCH: times not trustworthy'}`);
  if (!ok) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
