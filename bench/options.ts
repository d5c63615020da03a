// The bench's options, one parser for the command line (bench/run.ts) and the
// browser page's query string (bench/browser.ts turns ?filter=conv&quick into
// --filter conv --quick).
import { WORKLOADS } from './workloads.js';
import type { SessionOpts } from './session.js';

export const HELP = `usage: npm run bench -- [options]
  --filter a,b     only workloads whose name contains one of these (e.g. conv, matmul, step)
  --engines a,b    only these engines (sleeve, tfjs-webgpu, tfjs-wasm, tfjs-cpu, torch-cpu, torch-cuda, numpy-cpu:
                   the float64 NumPy/SciPy reference, features-30s only)
  --runs N         timed runs per workload and engine (default 10; --quick 3)
  --warmup N       warm-up runs, the first of which is the correctness check (default 2; --quick 1; one more
                   plain run always follows the check)
  --cap S          seconds one engine may spend on one workload (tfjs-cpu: a third); timing stops early,
                   a first run over half of it gets one warm rerun as the sample (over all of it, it
                   stands alone, cold), and peers whose estimated run time exceeds it are skipped (default 45; --quick 30; 0: no cap)
  --budget S       whole-bench seconds; peers still to run after it are skipped (default 480; 0: none)
  --quick          1 warm-up + 3 runs, smaller caps
  --json FILE      write the JSON report (and FILE.html, the chart) there
  --save           write bench/results-<adapter>.json and .html
  --slug NAME      the <adapter> part of --save's file name (e.g. nvidia-h200: Dawn names the driver, not the card)
  --markdown       also print the table as Markdown (for bench/RESULTS.md)
  --variant k=v,…  force sleeve's kernel variants instead of the tuner's (matmul=blocked|tiled|tiled128|subgroup|subgroup4|subgroup8,
                   conv=plain|subgroup|subgroup16|rows16, conv-grad=direct|direct16|rows|tiled, grid=lane|stride4|stride16,
                   resample=device|host: where the audio rows resample),
                   to compare them; submit=16|32|64|128|256|512 sets how many dispatches sleeve records
                   before it submits (default 512)
  --profile        after timing, run sleeve once more with GPU timestamps per kernel (JSON: kernels)
  --tune-shapes    before timing, sleeve tunes its kernels for the workload's own shapes (tuneShapes: one run,
                   then each candidate per op shape; untimed, its duration noted)
  --paired N       after the timed runs, alternate sleeve's runs with each in-process peer's N times (the
                   order swapped every pair) and report each pair's ratio, median and range: drifting
                   load moves both halves of a pair alike (JSON: paired)
  --browser        run the bench in headless Chromium instead (playwright-core drives the system's
                   browser, SLEEVE_CHROMIUM overrides /usr/bin/chromium): the page's WebGPU adapter, with
                   tfjs-webgpu, -wasm and -cpu in the same page; no PyTorch. --json and --save work as here
  --serve          serve that page on 127.0.0.1 (--port N, default 8137) for any browser to open: options go
                   in its query string (?filter=matmul&quick), results are saved from the page
  --list           list the workloads and exit`;

const FLAGS = ['quick', 'save', 'markdown', 'profile', 'tune-shapes', 'help', 'list', 'browser', 'serve'];
/** Options that take a value (--k v or --k=v). */
export const VALUED = ['filter', 'engines', 'runs', 'warmup', 'cap', 'budget', 'json', 'slug', 'variant', 'paired', 'port'];

/** Options the Node side handles, never sent to a page. */
export const HOST_ONLY = ['json', 'save', 'slug', 'markdown', 'browser', 'serve', 'port'];

export interface Opts extends SessionOpts {
  engines: string[] | null;
  json: string | null;
  save: boolean;
  slug: string | null;
  markdown: boolean;
  variant: Record<string, string>;
  quick: boolean;
  browser: boolean;
  serve: boolean;
  port: number;
}

export function parseArgs(argv: string[]): Opts | null {
  const o: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`bench: unexpected argument '${a}'\n${HELP}`);
    const eq = a.indexOf('=');
    const [k, inline] = eq < 0 ? [a.slice(2), undefined] : [a.slice(2, eq), a.slice(eq + 1)];
    if (FLAGS.includes(k)) o[k] = true;
    else if (VALUED.includes(k)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`bench: --${k} needs a value`);
      o[k] = v;
    } else throw new Error(`bench: unknown option --${k}\n${HELP}`);
  }
  if (o.help) {
    console.log(HELP);
    return null;
  }
  if (o.list) {
    for (const w of WORKLOADS) console.log(`${w.name.padEnd(16)} ${w.title}`);
    return null;
  }
  const quick = !!o.quick;
  const num = (k: string, d: number) => {
    if (o[k] === undefined) return d;
    const v = Number(o[k]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`bench: --${k} wants a number ≥ 0, got '${o[k]}'`);
    return v;
  };
  const list = (k: string) => (typeof o[k] === 'string' ? (o[k] as string).split(',').map((s) => s.trim()).filter(Boolean) : null);
  return {
    filter: list('filter') ?? [],
    engines: list('engines'),
    runs: Math.max(1, Math.floor(num('runs', quick ? 3 : 10))),
    warmup: Math.max(1, Math.floor(num('warmup', quick ? 1 : 2))),
    capMs: num('cap', quick ? 30 : 45) * 1000 || Infinity,
    budgetS: num('budget', 480) || Infinity,
    json: typeof o.json === 'string' ? o.json : null,
    save: !!o.save,
    slug: typeof o.slug === 'string' ? o.slug.replace(/[^a-zA-Z0-9._-]+/g, '-') : null,
    markdown: !!o.markdown,
    profile: !!o.profile,
    tuneShapes: !!o['tune-shapes'],
    variant: Object.fromEntries(String(o.variant ?? '').split(',').filter(Boolean).map((kv) => kv.split('=', 2))),
    quick,
    paired: Math.floor(num('paired', 0)),
    browser: !!o.browser,
    serve: !!o.serve,
    port: Math.floor(num('port', 8137)),
  };
}

/** ?filter=conv&quick&paired=4 → --filter conv --quick --paired 4 (a bare key is a flag). */
export function queryArgs(search: string): string[] {
  const args: string[] = [];
  for (const [k, v] of new URLSearchParams(search)) {
    args.push(`--${k}`);
    if (v !== '') args.push(v);
  }
  return args;
}
