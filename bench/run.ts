// sleeve's benchmark: every workload on sleeve and on its peers (tfjs webgpu,
// wasm and cpu in this process; PyTorch through bench/torch_bench.py), each
// output checked against a reference before its time is trusted.
//
//   npm run bench [-- --filter conv --runs 5 --json out.json --save --quick]
import { cpus, availableParallelism, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, PROBES, InputCache, type Expected, type Workload } from './workloads.js';
import { isUnsupported, type Engine, type Prepared, type Samples, type Unsupported } from './engine.js';
import { sleeveEngine, unexportedOps } from './sleeve.js';
import { fmaPeak, loadPeak } from './peak.js';
import { tfjsEngines } from './tfjs.js';
import { runTorch, type TorchCell } from './torch.js';
import { adapterSlug, htmlChart, markdownTable, median, textTable, type Report, type Result } from './report.js';

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

interface Opts {
  filter: string[];
  engines: string[] | null;
  runs: number;
  warmup: number;
  capMs: number;
  budgetS: number;
  json: string | null;
  save: boolean;
  slug: string | null;
  markdown: boolean;
  profile: boolean;
  tuneShapes: boolean;
  variant: Record<string, string>;
  quick: boolean;
  paired: number;
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
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Warm-ups (the first one is the check) and timed runs within the cap. */
/** Per-engine caps: plain-JS tfjs-cpu is the slowest peer and tells the least, so it gets a third. */
const capFor = (engine: string, o: Opts) => (engine === 'tfjs-cpu' ? o.capMs / 3 : o.capMs);

/** Runs faster than this are timed in batches queued back to back, so that
 * one submit-and-wait (≈0.5 ms through Dawn on a big GPU) does not stand in
 * for the kernel's time; every engine is timed the same way (torch_bench.py
 * mirrors these rules). */
const BATCH_MS = 20;

async function measure(p: Prepared, capMs: number, o: Opts): Promise<{ samples: Samples; times: number[]; hosts: number[]; cold: boolean; batch: number }> {
  const t0 = performance.now();
  const samples = await p.check();
  const first = performance.now() - t0;
  // A first run over half the cap: one more (warm) run is the sample if the
  // first fitted the cap, else the first (cold) run is.
  if (first > capMs / 2) {
    if (first > capMs) return { samples, times: [first], hosts: [], cold: true, batch: 1 };
    const s = performance.now();
    await p.run();
    return { samples, times: [performance.now() - s], hosts: p.hostMs === undefined ? [] : [p.hostMs], cold: false, batch: 1 };
  }
  // Warm-ups after the check (at least one: the check's time includes
  // compilation and the read-back); the fastest sizes the batch. A fast
  // workload gets a second one: its first may still pay for first-use
  // allocations.
  let last = Infinity;
  const warmups = Math.max(1, o.warmup - 1);
  for (let i = 0; (i < warmups || (i < 2 && last < 4 * BATCH_MS)) && performance.now() - t0 < capMs / 3; i++) {
    const s = performance.now();
    await p.run();
    last = Math.min(last, performance.now() - s);
  }
  if (!Number.isFinite(last)) last = first;
  const batch = last < BATCH_MS ? Math.min(100, Math.ceil(BATCH_MS / Math.max(last, 0.05))) : 1;
  const times: number[] = [], hosts: number[] = [];
  while (times.length < o.runs) {
    const s = performance.now();
    await p.run(batch);
    const dt = performance.now() - s;
    times.push(dt / batch);
    if (p.hostMs !== undefined) hosts.push(p.hostMs);
    if (performance.now() - t0 + dt > capMs) break; // the next sample would not fit
  }
  return { samples, times, hosts, cold: false, batch };
}

/** Time a and b alternately, `pairs` times (b first every other pair, so
 * neither always runs on the other's leftovers); each pair's tb ÷ ta. */
async function pairedRatios(a: Prepared, batchA: number, b: Prepared, batchB: number, pairs: number): Promise<number[]> {
  const time = async (p: Prepared, batch: number) => {
    const s = performance.now();
    await p.run(batch);
    return (performance.now() - s) / batch;
  };
  await a.run(batchA);
  await b.run(batchB);
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      const ta = await time(a, batchA);
      ratios.push((await time(b, batchB)) / ta);
    } else {
      const tb = await time(b, batchB);
      ratios.push(tb / (await time(a, batchA)));
    }
  }
  return ratios;
}

/** Compare samples with the f64 reference: |got − ref| ≤ rtol·mag. */
function checkKernel(got: Samples, exp: Record<string, Expected>, rtol: number): string {
  const bad: string[] = [];
  let worst = '';
  let worstRatio = 0;
  for (const [name, e] of Object.entries(exp)) {
    const g = got[name];
    if (!g || g.length !== e.value.length) return `FAILED: ${name}: got ${g?.length ?? 0} samples, want ${e.value.length}`;
    e.value.forEach((ref, i) => {
      const err = Math.abs(g[i] - ref);
      const tol = rtol * e.mag[i] + 1e-30;
      if (!(err <= tol)) {
        bad.push(name);
        const ratio = Number.isFinite(err) ? err / tol : Infinity;
        if (ratio >= worstRatio) {
          worstRatio = ratio;
          worst = `${name}[${i}] = ${g[i]} vs ${ref.toPrecision(7)} (|err| ${err.toExponential(1)} > tol ${tol.toExponential(1)})`;
        }
      }
    });
  }
  const total = Object.values(exp).reduce((a, e) => a + e.value.length, 0);
  return bad.length ? `FAILED: ${bad.length}/${total} samples off, worst ${worst}` : 'ok';
}

/** Compare with another engine's samples: ‖got − ref‖∞ ≤ rtol·‖ref‖∞ per output. */
function checkAgainst(got: Samples, ref: Samples, rtol: number, refName: string): string {
  const bad: string[] = [];
  for (const [name, r] of Object.entries(ref)) {
    const g = got[name];
    if (!g || g.length !== r.length) return `FAILED: ${name}: got ${g?.length ?? 0} samples, want ${r.length}`;
    const scale = Math.max(...r.map(Math.abs));
    let worst = 0, at = 0;
    g.forEach((v, i) => {
      const e = Math.abs(v - r[i]);
      if (!(e <= worst)) {
        worst = Number.isFinite(e) ? e : Infinity;
        at = i;
      }
    });
    if (!(worst <= rtol * scale + 1e-7)) bad.push(`${name}[${at}] = ${g[at]} vs ${r[at].toPrecision(7)} (max |err| ${worst.toExponential(1)} > ${(rtol * scale).toExponential(1)})`);
  }
  return bad.length ? `FAILED vs ${refName}: ${bad.join('; ')}` : `ok (vs ${refName})`;
}

const REFERENCE_ORDER = ['torch-cpu', 'torch-cuda', 'tfjs-cpu', 'tfjs-wasm', 'tfjs-webgpu'];

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

  // Each peer's matmul and conv rates (small probes), to skip runs that would not fit the cap.
  const rates = new Map<string, number>();
  const rateOf = async (e: Engine, kind: 'matmul' | 'conv'): Promise<number | null> => {
    const key = `${e.name}|${kind}`;
    if (!rates.has(key)) {
      const probe = PROBES[kind];
      try {
        const p = await e.prepare(probe, new InputCache(probe));
        if (isUnsupported(p)) return null;
        await p.check();
        let best = Infinity;
        for (let i = 0; i < 3; i++) {
          const s = performance.now();
          await p.run();
          best = Math.min(best, performance.now() - s);
        }
        rates.set(key, probe.flops! / best);
        p.dispose();
      } catch {
        return null;
      }
    }
    return rates.get(key)!;
  };

  // --paired: sleeve against each in-process peer whose check passed, if the
  // pairs fit the peer's cap and the budget.
  const pairUp = async (w: Workload, data: InputCache, base: Result, rows: Result[]) => {
    const sl = engines.find((e) => e.name === 'sleeve');
    if (!sl) return;
    let a: Prepared | null = null; // sleeve's side, prepared once for every peer
    try {
      for (const r of rows) {
        const peer = engines.find((e) => e.name === r.engine && e.name !== 'sleeve');
        if (!peer || r.check !== 'ok' || r.cold) continue;
        if ((r.median_ms + base.median_ms) * (o.paired + 1) > capFor(peer.name, o) || performance.now() > deadline) {
          rep.notes.push(`${w.name}: ${peer.name} not paired: ${o.paired} pairs would not fit its cap or the budget`);
          continue;
        }
        let b: Prepared | Unsupported | null = null;
        try {
          if (!a) {
            const p = await sl.prepare(w, data);
            if (isUnsupported(p)) return;
            a = p;
          }
          b = await peer.prepare(w, data);
          if (isUnsupported(b)) continue;
          const q = await pairedRatios(a, base.batch ?? 1, b, r.batch ?? 1, o.paired);
          r.paired = { pairs: q.length, ratio_median: median(q), ratio_min: Math.min(...q), ratio_max: Math.max(...q) };
          console.log(`  paired with sleeve: ${peer.name} ÷ sleeve ${r.paired.ratio_median.toFixed(2)}× (${r.paired.ratio_min.toFixed(2)}–${r.paired.ratio_max.toFixed(2)}×, ${q.length} pairs)`);
        } catch (err) {
          rep.notes.push(`${w.name}: ${peer.name} not paired: ${msg(err)}`);
        } finally {
          if (b && !isUnsupported(b)) b.dispose();
        }
      }
    } finally {
      (a as Prepared | null)?.dispose();
    }
  };

  for (const w of workloads) {
    if (w.gpuSized && (rep.fma_peak_gflops ?? Infinity) < 1000 && !o.filter.some((f) => f === w.name)) {
      rep.notes.push(`${w.name} left out: sized for a GPU, and this adapter's FMA ceiling is ${rep.fma_peak_gflops!.toFixed(0)} GFLOP/s (--filter ${w.name} runs it)`);
      continue;
    }
    console.log(`\n${w.name} — ${w.title}`);
    const data = new InputCache(w);
    const samples = new Map<string, Samples>();
    const rows: Result[] = [];
    const deviceErrors = new Map<string, string>();
    const addResult = (engine: string, times: number[], s: Samples, cold = false, batch = 1) => {
      const m = median(times);
      const r: Result = {
        workload: w.name, engine, median_ms: m, min_ms: Math.min(...times), max_ms: Math.max(...times), runs: times.length, check: '',
      };
      if (cold) r.cold = true;
      if (batch > 1) r.batch = batch;
      if (w.flops) r.gflops = w.flops / m / 1e6;
      if (w.bytes) r.gbps = w.bytes / m / 1e6;
      samples.set(engine, s);
      rows.push(r);
    };
    const skip = (engine: string, reason: string) => {
      rep.skipped.push({ workload: w.name, engine, reason });
      console.log(`  ${engine}: skipped — ${reason}`);
    };

    for (const te of torchEngines) {
      const c = torchCells.get(`${w.name}|${te}`);
      if (!c) continue;
      if (c.times_ms?.length && c.samples) addResult(te, c.times_ms, c.samples, !!c.cold, c.batch ?? 1);
      else skip(te, c.unsupported ?? `error: ${c.error}`);
    }
    for (const e of engines) {
      const peer = e.name !== 'sleeve';
      if (peer && want('sleeve') && !rows.some((r) => r.engine === 'sleeve')) {
        skip(e.name, 'sleeve did not run this workload, so there is no ratio to measure (--engines without sleeve runs peers alone)');
        continue;
      }
      if (peer && performance.now() > deadline) {
        skip(e.name, `the --budget of ${o.budgetS} s is spent`);
        continue;
      }
      if (peer && Number.isFinite(o.capMs) && w.estFlops > 5e9) {
        const kind = w.estRate ?? 'matmul';
        const r = await rateOf(e, kind);
        // a training step also runs backward kernels the probe does not time: assume them 3× slower
        const est = r ? (w.estFlops / r) * (w.kind === 'step' ? 3 : 1) : null;
        const cap = capFor(e.name, o);
        if (est !== null && est > cap) {
          skip(e.name, `estimated ${(est / 1000).toFixed(0)} s per run from its ${kind} rate here (${(r! / 1e6).toFixed(2)} GFLOP/s), over its ${(cap / 1000).toFixed(0)} s cap (--cap 0 runs it anyway)`);
          continue;
        }
      }
      process.stdout.write(`  ${e.name} …`);
      e.takeError?.(); // forget errors from earlier work
      const t0 = performance.now();
      let prepared;
      try {
        prepared = await e.prepare(w, data);
      } catch (err) {
        console.log(' error');
        skip(e.name, `error while preparing: ${msg(err)}`);
        continue;
      }
      if (isUnsupported(prepared)) {
        console.log(' unsupported');
        skip(e.name, prepared.unsupported);
        continue;
      }
      try {
        if (o.tuneShapes && e.tuneShapes) {
          // On an instance of its own: a training step moves its optimizer's
          // state, and the check must see the first step of the same inputs.
          const t1 = performance.now();
          const probe = await e.prepare(w, data);
          if (!isUnsupported(probe)) {
            try {
              const { sites, measured, chosen } = await e.tuneShapes(() => probe.run());
              rep.notes.push(`${w.name}: ${e.name} tuned ${sites} op shapes (${measured} measured) in ${((performance.now() - t1) / 1000).toFixed(1)} s before timing${chosen ? `: ${chosen}` : ''}`);
            } finally {
              probe.dispose();
            }
          }
        }
        const { samples: s, times, hosts, cold, batch } = await measure(prepared, capFor(e.name, o), o);
        addResult(e.name, times, s, cold, batch);
        if (hosts.length) rows[rows.length - 1].host_ms = median(hosts);
        const devErr = e.takeError?.();
        if (devErr) deviceErrors.set(e.name, devErr);
        console.log(` ${median(times).toFixed(2)} ms (${cold ? '1 cold run' : `${times.length} runs${batch > 1 ? ` of ${batch} queued` : ''}`}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        if (o.profile && e.profile) {
          const kernels = await e.profile(() => prepared.run());
          rows[rows.length - 1].kernels = kernels;
          const total = kernels.reduce((s, k) => s + k.ms, 0);
          for (const k of kernels.slice(0, 6)) {
            console.log(`      ${k.kernel.padEnd(36)} ${k.ms.toFixed(1).padStart(9)} ms ${((100 * k.ms) / total).toFixed(0).padStart(3)} %  ${k.calls} calls`);
          }
        }
      } catch (err) {
        console.log(' error');
        skip(e.name, `error: ${msg(err)}`);
      } finally {
        try {
          prepared.dispose();
        } catch {
          /* a failed device keeps its buffers */
        }
      }
    }

    // Checks: kernels against the f64 reference, steps against the first reference engine that ran.
    if (w.reference && rows.length) {
      const exp = w.reference(data.get);
      for (const r of rows) r.check = checkKernel(samples.get(r.engine)!, exp, r.engine === 'torch-cuda' ? Math.max(w.rtol, 3e-3) : w.rtol);
    } else {
      // an engine whose outputs are not finite is wrong, and no reference
      const finite = (n: string) => Object.values(samples.get(n)!).every((v) => v.every(Number.isFinite));
      const refName = REFERENCE_ORDER.find((n) => samples.has(n) && finite(n));
      for (const r of rows) {
        if (!finite(r.engine)) r.check = 'FAILED: non-finite values in its outputs';
        else if (!refName) r.check = 'unchecked: no reference engine ran (torch or tfjs) with finite outputs';
        else if (r.engine === refName) r.check = 'reference';
        else r.check = checkAgainst(samples.get(r.engine)!, samples.get(refName)!, w.rtol, refName);
      }
    }
    for (const r of rows) {
      const devErr = deviceErrors.get(r.engine);
      if (devErr) r.check = `FAILED: WebGPU error during the run: ${devErr}`;
    }
    const base = rows.find((r) => r.engine === 'sleeve');
    for (const r of rows) if (base) r.ratio_vs_sleeve = r.median_ms / base.median_ms;
    if (o.paired > 0 && base?.check === 'ok' && !base.cold) await pairUp(w, data, base, rows);
    data.clear();
    rows.sort((x, y) => (x.engine === 'sleeve' ? -1 : y.engine === 'sleeve' ? 1 : x.median_ms - y.median_ms));
    rep.results.push(...rows);
    for (const r of rows) if (r.check.startsWith('FAILED')) console.log(`  !!! ${r.engine}: ${r.check}`);
  }

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
