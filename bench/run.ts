// sleeve's benchmark: every workload on sleeve and on its peers (tfjs webgpu,
// wasm and cpu in this process; PyTorch through bench/torch_bench.py), each
// output checked against a reference before its time is trusted.
//
//   npm run bench [-- --filter conv --runs 5 --json out.json --save --quick]
import { cpus, availableParallelism, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from './workloads.js';
import type { Engine } from './engine.js';
import { sleeveEngine, unexportedOps } from './sleeve.js';
import { fmaPeak, loadPeak } from './peak.js';
import { tfjsEngines } from './tfjs.js';
import { runTorch, type TorchCell } from './torch.js';
import { adapterSlug, htmlChart, markdownTable, textTable, type Report } from './report.js';
import { runWorkloads, type SessionOpts } from './session.js';

const HELP = `usage: npm run bench -- [options]
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
                   conv=plain|subgroup|subgroup16|rows16, conv-grad=direct|direct16|rows|tiled, grid=lane|stride4|stride16),
                   to compare them; submit=16|32|64|128|256|512 sets how many dispatches sleeve records
                   before it submits (default 512)
  --profile        after timing, run sleeve once more with GPU timestamps per kernel (JSON: kernels)
  --tune-shapes    before timing, sleeve tunes its kernels for the workload's own shapes (tuneShapes: one run,
                   then each candidate per op shape; untimed, its duration noted)
  --paired N       after the timed runs, alternate sleeve's runs with each in-process peer's N times (the
                   order swapped every pair) and report each pair's ratio, median and range: drifting
                   load moves both halves of a pair alike (JSON: paired)
  --list           list the workloads and exit`;

interface Opts extends SessionOpts {
  engines: string[] | null;
  json: string | null;
  save: boolean;
  slug: string | null;
  markdown: boolean;
  variant: Record<string, string>;
  quick: boolean;
}

function parseArgs(argv: string[]): Opts | null {
  const o: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`bench: unexpected argument '${a}'\n${HELP}`);
    const eq = a.indexOf('=');
    const [k, inline] = eq < 0 ? [a.slice(2), undefined] : [a.slice(2, eq), a.slice(eq + 1)];
    if (['quick', 'save', 'markdown', 'profile', 'tune-shapes', 'help', 'list'].includes(k)) o[k] = true;
    else if (['filter', 'engines', 'runs', 'warmup', 'cap', 'budget', 'json', 'slug', 'variant', 'paired'].includes(k)) {
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
  };
}

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!o) return;
  const start = performance.now();
  const deadline = start + o.budgetS * 1000;
  const workloads = WORKLOADS.filter((w) => !o.filter.length || o.filter.some((f) => w.name.includes(f)));
  if (!workloads.length) throw new Error(`bench: no workload matches --filter ${o.filter.join(',')} (see --list)`);
  const want = (e: string) => !o.engines || o.engines.includes(e);

  const sleeve = await sleeveEngine(o.variant);
  const cores = availableParallelism?.() ?? cpus().length;
  const rep: Report = {
    adapter: { vendor: sleeve.adapter.vendor, architecture: sleeve.adapter.architecture, description: sleeve.adapter.description },
    date: new Date().toISOString(),
    cores,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_avg_start: loadavg()[0],
    settings: { runs: o.runs, warmup: o.warmup, cap_s: Number.isFinite(o.capMs) ? o.capMs / 1000 : null, budget_s: Number.isFinite(o.budgetS) ? o.budgetS : null, quick: o.quick, filter: o.filter, tune_shapes: o.tuneShapes },
    notes: [...sleeve.notes],
    results: [],
    skipped: [],
  };
  if (want('sleeve')) {
    const peak = await fmaPeak();
    rep.fma_peak_gflops = peak.rate;
    rep.notes.push(`WGSL fp32 FMA ceiling on this adapter (bench/peak.ts, a load-free loop): ${peak.rate.toFixed(1)} GFLOP/s (${peak.workgroups}×64 lanes × ${peak.iters * 64} FMAs in ${peak.ms.toFixed(0)} ms)`);
    const loads = await loadPeak();
    rep.load_peak_gfloats = {
      vec4: loads.vec4.rate, scalar: loads.scalar.rate, workgroup_vec4: loads.workgroupVec4.rate, workgroup_scalar: loads.workgroupScalar.rate,
    };
    rep.notes.push(`WGSL load ceilings (bench/peak.ts, cache-resident, each lane its own address): storage ${loads.vec4.rate.toFixed(2)} G floats/s as vec4 loads, ${loads.scalar.rate.toFixed(2)} as scalar loads; workgroup memory ${loads.workgroupVec4.rate.toFixed(2)} and ${loads.workgroupScalar.rate.toFixed(2)}`);
  }
  const a = rep.adapter;
  console.log(`sleeve bench — ${rep.date}`);
  console.log(`adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`);
  console.log(`machine: ${cores} cores, ${rep.cpu}, Node ${rep.node}, ${process.platform}-${process.arch}, load average ${loadavg()[0].toFixed(1)}`);
  console.log(`runs: ${o.warmup} warm-up (the first is the correctness check) + up to ${o.runs} timed, cap ${Number.isFinite(o.capMs) ? o.capMs / 1000 + ' s' : 'none'} per engine and workload, budget ${Number.isFinite(o.budgetS) ? o.budgetS + ' s' : 'none'}`);

  // PyTorch (and NumPy) first: one process for every workload, and the reference for the training steps.
  const torchEngines = ['torch-cpu', 'torch-cuda', 'numpy-cpu'].filter(want);
  const torchCells = new Map<string, TorchCell>();
  if (torchEngines.length) {
    const script = [join(here, 'torch_bench.py'), resolve('bench/torch_bench.py')].find(existsSync);
    if (!script) rep.notes.push('torch skipped: torch_bench.py not found next to the bundle or in bench/');
    else {
      console.log(`${torchEngines.join(', ')}: running bench/torch_bench.py …`);
      const tr = await runTorch(script, workloads, {
        engines: torchEngines, warmup: o.warmup, runs: o.runs, capMs: Math.min(o.capMs, 1e12), budgetS: Math.min(o.budgetS * 0.3, 1e9),
      });
      rep.notes.push(...tr.notes);
      for (const c of tr.cells) torchCells.set(`${c.workload}|${c.engine}`, c);
    }
  }

  const tf = await tfjsEngines(['webgpu', 'wasm', 'cpu'].filter((b) => want(`tfjs-${b}`)), here);
  rep.notes.push(...tf.notes);
  const engines: Engine[] = [...(want('sleeve') ? [sleeve] : []), ...tf.engines];
  for (const n of rep.notes) console.log(`  ${n}`);

  await runWorkloads({
    o, workloads, engines, wantSleeve: want('sleeve'), torchEngines, torchCells, deadline, rep,
    log: { line: (s) => console.log(s), part: (s) => process.stdout.write(s) },
  });

  for (const e of engines) await e.close?.();
  const unexported = unexportedOps();
  if (unexported.length) rep.notes.push(`sleeve ops measured from their module files (not exported by runtime/index.ts yet): ${unexported.join(', ')}`);

  rep.load_avg_end = loadavg()[0];
  if (Math.max(rep.load_avg_start, rep.load_avg_end) > cores * 0.75) {
    rep.notes.push(`the machine was busy (load average ${rep.load_avg_start.toFixed(1)} at the start, ${rep.load_avg_end.toFixed(1)} at the end, ${cores} cores): times are inflated and noisy`);
  }
  console.log(textTable(rep, workloads));
  if (rep.notes.length) console.log('\nnotes:\n' + rep.notes.map((n) => `  ${n}`).join('\n'));
  const sleeveErrors = rep.skipped.filter((s) => s.engine === 'sleeve' && s.reason.startsWith('error'));
  if (sleeveErrors.length) console.log(`\n!!! sleeve failed to run: ${sleeveErrors.map((s) => `${s.workload} (${s.reason})`).join('; ')}`);
  const failed = rep.results.filter((r) => r.check.startsWith('FAILED'));
  if (failed.length) console.log(`\n!!! ${failed.length} correctness check(s) FAILED: ${failed.map((r) => `${r.workload}/${r.engine}`).join(', ')} — their times mean nothing`);
  if (o.markdown) console.log('\n' + markdownTable(rep, workloads));

  const outputs: string[] = [];
  if (o.json) outputs.push(o.json);
  if (o.save) outputs.push(join('bench', `results-${o.slug ?? adapterSlug(rep.adapter)}.json`));
  for (const file of outputs) {
    mkdirSync(dirname(resolve(file)), { recursive: true });
    writeFileSync(file, JSON.stringify(rep, null, 2) + '\n');
    const html = file.replace(/\.json$/, '') + '.html';
    writeFileSync(html, htmlChart(rep, workloads));
    console.log(`wrote ${file} and ${html}`);
  }
  console.log(`\ntotal ${((performance.now() - start) / 1000).toFixed(0)} s`);
  // Dawn keeps the event loop alive
  process.exit(0);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
