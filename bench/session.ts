// One bench session, wherever it runs (Node: bench/run.ts; a browser page:
// bench/browser.ts): each workload on each engine, warm-ups then timed runs
// within the cap, every engine's outputs checked before its time counts,
// optionally paired with sleeve's runs and profiled. Platform-free: output
// goes through `log`, PyTorch's times come in already measured.
import { PROBES, InputCache, type Expected, type Workload } from './workloads.js';
import { isUnsupported, type Engine, type Prepared, type Samples, type Unsupported } from './engine.js';
import type { TorchCell } from './torch.js';
import { median, type Report, type Result } from './report.js';

export interface SessionOpts {
  filter: string[];
  runs: number;
  warmup: number;
  capMs: number;
  budgetS: number;
  profile: boolean;
  tuneShapes: boolean;
  paired: number;
}

/** Where a session's progress goes: whole lines, and a line's start that a later line() ends. */
export interface Log {
  line(s: string): void;
  part(s: string): void;
}

export interface Session {
  o: SessionOpts;
  workloads: Workload[];
  /** sleeve first, then the in-process peers */
  engines: Engine[];
  /** whether sleeve was asked for (peers alone have no ratio to measure) */
  wantSleeve: boolean;
  /** the PyTorch/NumPy engines asked for, and their results, measured
   * beforehand by bench/torch_bench.py, by `workload|engine` */
  torchEngines: string[];
  torchCells: Map<string, TorchCell>;
  /** performance.now() after which peers are skipped */
  deadline: number;
  rep: Report;
  log: Log;
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Per-engine caps: plain-JS tfjs-cpu is the slowest peer and tells the least, so it gets a third. */
const capFor = (engine: string, o: SessionOpts) => (engine === 'tfjs-cpu' ? o.capMs / 3 : o.capMs);

/** Runs faster than this are timed in batches queued back to back, so that
 * one submit-and-wait (≈0.5 ms through Dawn on a big GPU) does not stand in
 * for the kernel's time; every engine is timed the same way (torch_bench.py
 * mirrors these rules). */
const BATCH_MS = 20;

/** Warm-ups (the first one is the check) and timed runs within the cap. */
async function measure(p: Prepared, capMs: number, o: SessionOpts): Promise<{ samples: Samples; times: number[]; hosts: number[]; cold: boolean; batch: number }> {
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
/** Every workload of the session, its results and skips added to s.rep. */
export async function runWorkloads(s: Session): Promise<void> {
  const { o, workloads, engines, torchEngines, torchCells, deadline, rep, log } = s;
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
          log.line(`  paired with sleeve: ${peer.name} ÷ sleeve ${r.paired.ratio_median.toFixed(2)}× (${r.paired.ratio_min.toFixed(2)}–${r.paired.ratio_max.toFixed(2)}×, ${q.length} pairs)`);
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
    log.line(`\n${w.name} — ${w.title}`);
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
      log.line(`  ${engine}: skipped — ${reason}`);
    };

    for (const te of torchEngines) {
      const c = torchCells.get(`${w.name}|${te}`);
      if (!c) continue;
      if (c.times_ms?.length && c.samples) addResult(te, c.times_ms, c.samples, !!c.cold, c.batch ?? 1);
      else skip(te, c.unsupported ?? `error: ${c.error}`);
    }
    for (const e of engines) {
      const peer = e.name !== 'sleeve';
      if (peer && s.wantSleeve && !rows.some((r) => r.engine === 'sleeve')) {
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
      log.part(`  ${e.name} …`);
      e.takeError?.(); // forget errors from earlier work
      const t0 = performance.now();
      let prepared;
      try {
        prepared = await e.prepare(w, data);
      } catch (err) {
        log.line(' error');
        skip(e.name, `error while preparing: ${msg(err)}`);
        continue;
      }
      if (isUnsupported(prepared)) {
        log.line(' unsupported');
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
        log.line(` ${median(times).toFixed(2)} ms (${cold ? '1 cold run' : `${times.length} runs${batch > 1 ? ` of ${batch} queued` : ''}`}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        if (o.profile && e.profile) {
          const kernels = await e.profile(() => prepared.run());
          rows[rows.length - 1].kernels = kernels;
          const total = kernels.reduce((s, k) => s + k.ms, 0);
          for (const k of kernels.slice(0, 6)) {
            log.line(`      ${k.kernel.padEnd(36)} ${k.ms.toFixed(1).padStart(9)} ms ${((100 * k.ms) / total).toFixed(0).padStart(3)} %  ${k.calls} calls`);
          }
        }
      } catch (err) {
        log.line(' error');
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
    for (const r of rows) if (r.check.startsWith('FAILED')) log.line(`  !!! ${r.engine}: ${r.check}`);
  }

}
