// The whole bench in one process, wherever that is (Node: bench/run.ts; a
// browser page: bench/browser.ts): sleeve's engine and its tuner, the WGSL
// ceilings, PyTorch's times when the host can run it, the tfjs peers, then
// the session over every workload. Returns the report; printing and files
// are the caller's.
import { WORKLOADS, type Workload } from './workloads.js';
import type { Engine } from './engine.js';
import { sleeveEngine, unexportedOps } from './sleeve.js';
import { fmaPeak, loadPeak } from './peak.js';
import { tfjsEngines } from './tfjs.js';
import type { TorchCell } from './torch.js';
import type { Report } from './report.js';
import { runWorkloads, type Log } from './session.js';
import type { Opts } from './options.js';

/** What the place the bench runs in provides. */
export interface Host {
  cores: number;
  cpu: string;
  /** Node's version, for a run in Node */
  node?: string;
  /** the browser's name and version, for a run in a page */
  browser?: string;
  /** 1-minute load average, where the host can see it */
  loadAvg(): number | null;
  /** where tfjs-wasm finds its .wasm files (a directory or a URL) */
  wasmDir: string;
  /** PyTorch/NumPy, measured beforehand in their own process (Node only) */
  torch?(workloads: Workload[], engines: string[], rep: Report): Promise<TorchCell[]>;
  log: Log;
}

export const selectWorkloads = (filter: string[]): Workload[] => {
  const ws = WORKLOADS.filter((w) => !filter.length || filter.some((f) => w.name.includes(f)));
  if (!ws.length) throw new Error(`bench: no workload matches --filter ${filter.join(',')} (see --list)`);
  return ws;
};

export async function runBench(o: Opts, host: Host): Promise<Report> {
  const { log } = host;
  const deadline = performance.now() + o.budgetS * 1000;
  const workloads = selectWorkloads(o.filter);
  const want = (e: string) => !o.engines || o.engines.includes(e);

  const sleeve = await sleeveEngine(o.variant);
  const load0 = host.loadAvg();
  const rep: Report = {
    adapter: { vendor: sleeve.adapter.vendor, architecture: sleeve.adapter.architecture, description: sleeve.adapter.description },
    date: new Date().toISOString(),
    cores: host.cores,
    cpu: host.cpu,
    ...(host.node ? { node: host.node } : {}),
    ...(host.browser ? { browser: host.browser } : {}),
    ...(load0 !== null ? { load_avg_start: load0 } : {}),
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
  log.line(`sleeve bench — ${rep.date}`);
  log.line(`adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`);
  const where = host.browser ? `${host.browser}` : `Node ${host.node}`;
  log.line(`machine: ${rep.cores} cores, ${rep.cpu}, ${where}${load0 !== null ? `, load average ${load0.toFixed(1)}` : ''}`);
  log.line(`runs: ${o.warmup} warm-up (the first is the correctness check) + up to ${o.runs} timed, cap ${Number.isFinite(o.capMs) ? o.capMs / 1000 + ' s' : 'none'} per engine and workload, budget ${Number.isFinite(o.budgetS) ? o.budgetS + ' s' : 'none'}`);

  // PyTorch (and NumPy) first: one process for every workload, and the reference for the training steps.
  const torchEngines = ['torch-cpu', 'torch-cuda', 'numpy-cpu'].filter(want);
  const torchCells = new Map<string, TorchCell>();
  if (torchEngines.length && host.torch) {
    for (const c of await host.torch(workloads, torchEngines, rep)) torchCells.set(`${c.workload}|${c.engine}`, c);
  } else if (torchEngines.length) rep.notes.push(`${torchEngines.join(', ')} not run: PyTorch runs only from Node (npm run bench), not in a page`);

  const tf = await tfjsEngines(['webgpu', 'wasm', 'cpu'].filter((b) => want(`tfjs-${b}`)), host.wasmDir);
  rep.notes.push(...tf.notes);
  const engines: Engine[] = [...(want('sleeve') ? [sleeve] : []), ...tf.engines];
  for (const n of rep.notes) log.line(`  ${n}`);

  await runWorkloads({ o, workloads, engines, wantSleeve: want('sleeve'), torchEngines, torchCells, deadline, rep, log });

  for (const e of engines) await e.close?.();
  const unexported = unexportedOps();
  if (unexported.length) rep.notes.push(`sleeve ops measured from their module files (not exported by runtime/index.ts yet): ${unexported.join(', ')}`);

  const load1 = host.loadAvg();
  if (load0 !== null && load1 !== null) {
    rep.load_avg_end = load1;
    if (Math.max(load0, load1) > rep.cores * 0.75) {
      rep.notes.push(`the machine was busy (load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end, ${rep.cores} cores): times are inflated and noisy`);
    }
  }
  return rep;
}
