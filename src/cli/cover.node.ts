// `sleeve cover SONG.mp3 --out COVER.png`: the genre of a song and a cover
// painted for it (src/cover.ts), from checkpoints given on the command line.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sl from '../../runtime/node.js';
import { readAudioFile } from '../audio/file.node.js';
import { failure, usageError } from './common.node.js';
import { GenreClassifier, GENRES } from '../models/classifier.js';
import { CoverGenerator } from '../models/generator.js';
import { makeCover, type Cover } from '../cover.js';

export const COVER_HELP = `Usage: sleeve cover SONG.mp3 --out COVER.png (--classifier C.safetensors --generator G.safetensors | --untrained) [options]

Paints a 100 × 100 cover for SONG.mp3. The genre classifier reads the song's
feature image in slices of 258 frames (about 6 s) and averages its class
probabilities over them; the conditional generator paints the most probable
genre from a seeded noise vector, so a song and a seed always give the same
cover. Genres: ${GENRES.join(', ')}.

sleeve ships no trained weights yet: pass checkpoints (safetensors, f32, with
torch.nn's key names; --keys lists the keys and shapes each must have), or
--untrained for freshly initialised networks, whose cover means nothing (for
timing the path and for smoke tests).

Options:
  --out FILE          the PNG to write (required; written atomically)
  --classifier FILE   the classifier's weights
  --generator FILE    the generator's weights
  --untrained         initialised weights (from --seed) instead of checkpoints
  --seed N            seed of the noise vector (and of --untrained's weights); default 0
  --genre NAME        paint this genre instead of the classifier's
  --keys              print the keys and shapes both checkpoints must have, then exit
  --json              print the report as JSON (genre, probabilities, stage times)
  -h, --help          this text`;

// The pipelines the last cover on this adapter used: made in the background
// while the song decodes (sl.warmPipelines), not compiled one by one on first
// use. A cache like the tuner's: a stale or missing file costs nothing.
const manifestPath = (): string => join(sl.defaultCacheDir(), 'pipelines-cover.json');
const adapterKey = (): string => JSON.stringify(sl.adapterInfo());

function warmFromLastRun(): void {
  try {
    const m = JSON.parse(readFileSync(manifestPath(), 'utf8')) as { adapter?: string; pipelines?: sl.PipelineKey[] };
    if (m.adapter === adapterKey() && Array.isArray(m.pipelines)) void sl.warmPipelines(m.pipelines);
  } catch {
    // no list yet, or not readable: every pipeline is made on first use
  }
}

async function rememberPipelines(): Promise<void> {
  try {
    mkdirSync(sl.defaultCacheDir(), { recursive: true });
    await sl.saveFile(manifestPath(), new TextEncoder().encode(JSON.stringify({ adapter: adapterKey(), pipelines: sl.pipelinesUsed() })));
  } catch {
    // a cache that cannot be written only loses the head start next time
  }
}

/** Load a checkpoint into a model; the error names the file. */
async function loadInto(model: sl.nn.Module, path: string, what: string): Promise<void> {
  const st = sl.loadSafetensors(await sl.loadFile(path));
  try {
    model.loadStateDict(st.tensors);
  } catch (err) {
    throw new Error(`sleeve cover: ${path}: not a ${what} checkpoint: ${(err as Error).message.replace(/^sleeve: /, '')}`);
  } finally {
    Object.values(st.tensors).forEach((t) => t.dispose());
  }
}

function keys(m: sl.nn.Module): string {
  return Object.entries(m.stateDict()).map(([k, t]) => `  ${k} [${t.shape.join(', ')}]`).join('\n');
}

/** Runs the subcommand with the arguments after `cover`; resolves to the exit code. */
export async function coverCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' }, classifier: { type: 'string' }, generator: { type: 'string' }, untrained: { type: 'boolean' },
        seed: { type: 'string' }, genre: { type: 'string' }, keys: { type: 'boolean' }, json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usageError('cover', (err as Error).message);
  }
  const v = args.values;
  if (v.help) {
    console.log(COVER_HELP);
    return 0;
  }
  const usage = (msg: string) => usageError('cover', msg);
  const seed = v.seed === undefined ? 0 : Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return usage(`--seed must be an integer in 0…4294967295, got ${v.seed}`);
  if (v.genre !== undefined && !(GENRES as readonly string[]).includes(v.genre)) return usage(`--genre: no genre '${v.genre}' (have ${GENRES.join(', ')})`);
  if (!v.keys) {
    if (args.positionals.length !== 1) return usage(args.positionals.length ? `one song at a time, got ${args.positionals.length}` : 'no song given');
    if (!v.out) return usage('--out COVER.png is required');
    if (v.untrained && (v.classifier || v.generator)) return usage('--untrained takes no checkpoints');
    if (!v.untrained && !(v.classifier && v.generator)) {
      return usage('sleeve ships no trained weights yet: pass --classifier and --generator checkpoints, or --untrained for initialised ones');
    }
  }
  const song = args.positionals[0];
  let classifier: GenreClassifier | null = null, generator: CoverGenerator | null = null;
  try {
    const bytes = v.keys ? null : await readAudioFile(song);
    await sl.init();
    if (!v.keys) warmFromLastRun();
    sl.manualSeed(seed);
    classifier = new GenreClassifier();
    generator = new CoverGenerator();
    if (v.keys) {
      console.log(`classifier (--classifier):\n${keys(classifier)}\ngenerator (--generator):\n${keys(generator)}`);
      return 0;
    }
    if (!v.untrained) {
      await loadInto(classifier, v.classifier!, 'classifier');
      await loadInto(generator, v.generator!, 'generator');
    }
    const cover = await makeCover(bytes!, song, { classifier, generator }, { seed, genre: v.genre });
    await sl.saveFile(v.out!, cover.png);
    await rememberPipelines();
    for (const w of cover.warnings) console.error(`warning: ${w.replace(/^sleeve: /, '')}`);
    if (v.json) console.log(JSON.stringify(report(cover, v.out!, !!v.untrained), null, 2));
    else printReport(cover, v.out!, !!v.untrained);
    return 0;
  } catch (err) {
    return failure('cover', err);
  } finally {
    classifier?.dispose();
    generator?.dispose();
  }
}

function report(c: Cover, out: string, untrained: boolean) {
  const { rgb: _rgb, png: _png, ...rest } = c;
  return { ...rest, out, untrained };
}

function printReport(c: Cover, out: string, untrained: boolean): void {
  const top = Object.entries(c.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(`${c.summary.file}: ${c.summary.seconds.toFixed(2)} s, ${c.slices} slice${c.slices === 1 ? '' : 's'}`);
  console.log(`genre: ${c.predicted} (${top.map(([g, p]) => `${g} ${(100 * p).toFixed(1)} %`).join(', ')})${untrained ? ' — untrained weights: meaningless' : ''}`);
  console.log(`cover: ${c.genre}, seed ${c.seed} → ${out}`);
  const t = c.timings;
  console.log(`time: decode ${t.decode.toFixed(0)} ms, features ${t.features.toFixed(0)} ms, classify ${t.classify.toFixed(0)} ms, paint ${t.paint.toFixed(0)} ms, png ${t.png.toFixed(0)} ms, total ${t.total.toFixed(0)} ms`);
}
