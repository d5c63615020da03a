// What the features-30s row of the bench leaves out: MP3 decoding. Times,
// for a 30 s 44.1 kHz stereo MP3, sleeve's decode (mpg123, checked), the mono
// mixdown, the resampler (on the GPU, as the path runs it; the host's for
// comparison) and the GPU feature stages up to the classifier's image read back, each and end to end (median of several runs). NumPy and
// torch have no MP3 decoder, so there is nothing to compare the decode with;
// resample + features are compared with them, after a correctness check, by
// `npm run bench -- --filter features-30s`.
//
// Run (from the project root; needs `lame`):
//   npx esbuild bench/features.bench.ts --bundle --platform=node --format=esm \
//     --loader:.wgsl=text --external:webgpu --external:mpg123-decoder \
//     --outfile=bench/.out/features.bench.mjs && node bench/.out/features.bench.mjs [--runs 7]
// Writes bench/.out/features.json. The clip is built from GTZAN clips in
// ../shared/data/gtzan-mini (looped to 30 s) or, without them, the bench's
// synthetic mix (bench/data.ts music()).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as sl from '../runtime/node.js';
import { decodeMp3, toMono } from '../src/audio/decode.js';
import { resample, resampleOnDevice } from '../src/audio/resample.js';
import { featureParams, featureTensors } from '../src/audio/features.js';
import { music } from './data.js';

const OUT = 'bench/.out';
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
    mono = resample(music(SECONDS * 44100, 44100, 60), 44100, 22050);
    source = 'synthetic (bench/data.ts music(); no ../shared/data/gtzan-mini)';
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

async function main() {
  mkdirSync(OUT, { recursive: true });
  const { path, source } = await makeClip();
  const bytes = new Uint8Array(readFileSync(path));
  await sl.init();
  const p = featureParams();
  const adapter = sl.adapterInfo();

  const times = { decode: [] as number[], mono: [] as number[], resample: [] as number[], gpu: [] as number[], total: [] as number[], hostResample: [] as number[] };
  let frames = 0;
  for (let run = 0; run <= RUNS; run++) {
    const t0 = performance.now();
    const d = await decodeMp3(bytes, path);
    const t1 = performance.now();
    const mono44 = toMono(d.channels);
    const t2 = performance.now();
    const y = resampleOnDevice(mono44, d.sampleRate, p.sampleRate, p.resample);
    await sl.flush(); // the resampler's own time
    const t3 = performance.now();
    const f = featureTensors(y, p);
    await f.image.read();
    const t4 = performance.now();
    y.dispose();
    resample(mono44, d.sampleRate, p.sampleRate, p.resample); // the host's, off the path
    const t5 = performance.now();
    if (run > 0) {
      // run 0 is the warm-up (pipeline compilation, buffer pool)
      times.decode.push(t1 - t0);
      times.mono.push(t2 - t1);
      times.resample.push(t3 - t2);
      times.gpu.push(t4 - t3);
      times.total.push(t4 - t0);
      times.hostResample.push(t5 - t4);
    }
    frames = f.image.shape[1];
    for (const t of Object.values(f)) t.dispose();
  }

  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<keyof typeof times, number>;
  const result = { clip: { path, source, seconds: SECONDS, rate: 44100, channels: 2, frames }, device: adapter, runs: RUNS, sleeve_ms: ms };
  writeFileSync(join(OUT, 'features.json'), JSON.stringify(result, null, 2));
  const f1 = (v: number) => v.toFixed(1).padStart(8);
  console.log(`sleeve: a ${SECONDS} s 44.1 kHz stereo MP3 (${source}) → image 128×${frames}; median of ${RUNS} runs`);
  console.log(`device: ${adapter.vendor} ${adapter.architecture} ${adapter.description}`.trim());
  console.log(`  decode MP3                ${f1(ms.decode)} ms`);
  console.log(`  mono mixdown              ${f1(ms.mono)} ms`);
  console.log(`  resample to 22.05 kHz     ${f1(ms.resample)} ms   (GPU, waited for; the host's resample(): ${ms.hostResample.toFixed(1)} ms)`);
  console.log(`  GPU features, image read  ${f1(ms.gpu)} ms`);
  console.log(`  end to end                ${f1(ms.total)} ms   (resample + features against NumPy and torch: npm run bench -- --filter features-30s)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
