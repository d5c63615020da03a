// `sleeve features SONG.mp3 --out feats.npy [--png feats.png]`: the
// classifier's image of a song as a NumPy .npy (float32 [rows, frames]), a
// picture of it, and a report of the audio, the slices and the parameters.
import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as sl from '../../runtime/node.js';
import { readAudioFile } from '../audio/file.node.js';
import { failure, usageError } from './common.node.js';
import { extractFeatures, featureParams, imageRows, type FeatureParams } from '../audio/features.js';
import { planSlices } from '../audio/slices.js';
import { writeNpy } from '../audio/npy.js';
import { imagePng } from '../audio/png.js';

export const FEATURES_HELP = `Usage: sleeve features SONG.mp3 --out FEATS.npy [--png FEATS.png] [options]

Writes the classifier's image of SONG.mp3: log-mel bands (rows 0…n_mels−1,
lowest band first) over tempogram lags 1…n_lags, one column per STFT frame,
as a float32 NumPy array [rows, frames]; each block normalised as recorded in
the parameters. Prints the audio found, the slice count and the parameters.

Options:
  --out FILE         the .npy to write (required)
  --png FILE         also a picture: spectrogram above, tempogram below
  --params FILE      JSON overriding feature parameters (any subset, e.g. {"mel":{"nMels":96}})
  --slice-hop N      frames between slice starts (default: the slice width, no overlap)
  --raw              write the blocks un-normalised (mel in dB, tempogram as computed)
  --json             print the report as JSON
  -h, --help         this text`;

interface Report {
  file: string;
  seconds: number;
  sourceRate: number;
  sourceChannels: number;
  shape: [number, number];
  slices: { count: number; width: number; hop: number; padded: boolean; uncovered: number };
  out: string;
  png: string | null;
  warnings: string[];
  params: FeatureParams;
}

/** Runs the subcommand with the arguments after `features`; resolves to the exit code. */
export async function featuresCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' }, png: { type: 'string' }, params: { type: 'string' }, 'slice-hop': { type: 'string' },
        raw: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`sleeve features: ${(err as Error).message}\n${FEATURES_HELP}`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    console.log(FEATURES_HELP);
    return 0;
  }
  const usage = (msg: string) => usageError('features', msg);
  if (args.positionals.length !== 1) return usage(args.positionals.length ? `one song at a time, got ${args.positionals.length}` : 'no song given');
  if (!v.out) return usage('--out FEATS.npy is required');
  const song = args.positionals[0];
  try {
    let over: Record<string, unknown> = {};
    if (v.params) {
      try {
        over = JSON.parse(readFileSync(v.params, 'utf8'));
      } catch (err) {
        return usage(`--params ${v.params}: ${(err as Error).message}`);
      }
    }
    const p0 = featureParams(over);
    if (v['slice-hop'] !== undefined) {
      const hop = Number(v['slice-hop']);
      if (!Number.isInteger(hop) || hop < 1) return usage(`--slice-hop must be a positive integer, got ${v['slice-hop']}`);
      p0.slices.hop = hop;
    }
    if (v.raw) p0.image = { ...p0.image, melNorm: { kind: 'none' }, tempogramNorm: { kind: 'none' } };
    const p = featureParams(p0 as never);
    const bytes = await readAudioFile(song);
    await sl.init();
    const f = await extractFeatures(bytes, song, p);
    const data = await f.image.read();
    const [rows, frames] = f.image.shape;
    f.image.dispose();
    await writeFile(v.out, writeNpy(data, [rows, frames]));
    if (v.png) await writeFile(v.png, imagePng(data, rows, frames, p.mel.nMels));
    const plan = planSlices(frames, p.slices);
    const report: Report = {
      file: song, seconds: f.summary.seconds, sourceRate: f.summary.sourceRate, sourceChannels: f.summary.sourceChannels,
      shape: [rows, frames],
      slices: { count: plan.count, width: p.slices.width, hop: p.slices.hop, padded: plan.padded, uncovered: plan.uncovered },
      out: v.out, png: v.png ?? null, warnings: f.warnings, params: p,
    };
    for (const w of f.warnings) console.error(`warning: ${w.replace(/^sleeve: /, '')}`);
    if (v.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report, imageRows(p) === rows);
    return 0;
  } catch (err) {
    return failure('features', err);
  }
}

function printReport(r: Report, rowsOk: boolean): void {
  const p = r.params;
  const ch = r.sourceChannels === 1 ? 'mono' : r.sourceChannels === 2 ? 'stereo' : `${r.sourceChannels} channels`;
  console.log(`${r.file}: ${r.seconds.toFixed(2)} s, ${r.sourceRate} Hz ${ch} → mono ${p.sampleRate} Hz`);
  console.log(`image: ${r.shape[0]} × ${r.shape[1]} (${p.mel.nMels} mel bands over tempogram lags 1…${p.image.nLags}${rowsOk ? '' : ', unexpected row count'}) → ${r.out}${r.png ? ` and ${r.png}` : ''}`);
  const s = r.slices;
  const extra = s.padded ? ' (the clip is shorter than one slice: padded)' : s.uncovered ? `; the last ${s.uncovered} frames fall outside every slice` : '';
  console.log(`slices: ${s.count} of ${s.width} frames every ${s.hop}${extra}`);
  console.log(`params: ${JSON.stringify(p)}`);
}
