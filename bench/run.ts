// sleeve's benchmark: every workload on sleeve and on its peers (tfjs webgpu,
// wasm and cpu in this process; PyTorch through bench/torch_bench.py), each
// output checked against a reference before its time is trusted. With
// --browser the same harness runs in a Chromium page instead, with --serve
// in any browser (bench/browser.ts).
//
//   npm run bench [-- --filter conv --runs 5 --json out.json --save --quick]
import { cpus, availableParallelism, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTorch } from './torch.js';
import { adapterSlug, htmlChart, markdownTable, textTable, type Report } from './report.js';
import { parseArgs, type Opts } from './options.js';
import { runBench, selectWorkloads, type Host } from './harness.js';
import { pageQuery, runInChromium, serveDir } from './browser_host.js';

const here = dirname(fileURLToPath(import.meta.url));

/** PyTorch (and NumPy) through bench/torch_bench.py, one process for every workload. */
const torchHost = (o: Opts): Host['torch'] => async (workloads, engines, rep) => {
  const script = [join(here, 'torch_bench.py'), resolve('bench/torch_bench.py')].find(existsSync);
  if (!script) {
    rep.notes.push('torch skipped: torch_bench.py not found next to the bundle or in bench/');
    return [];
  }
  console.log(`${engines.join(', ')}: running bench/torch_bench.py …`);
  const tr = await runTorch(script, workloads, {
    engines, warmup: o.warmup, runs: o.runs, capMs: Math.min(o.capMs, 1e12), budgetS: Math.min(o.budgetS * 0.3, 1e9),
  });
  rep.notes.push(...tr.notes);
  return tr.cells;
};

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!o) return;
  const start = performance.now();
  const argv = process.argv.slice(2);
  if (o.serve) {
    await serveDir(here, o.port);
    const q = pageQuery(argv);
    console.log(`sleeve bench page: http://127.0.0.1:${o.port}/${q ? `?${q}` : ''} (Ctrl-C stops it)`);
    return; // the server keeps the process alive
  }
  let rep: Report;
  if (o.browser) {
    // the page cannot see the machine: this side fills in what it can
    const load0 = loadavg()[0];
    const timeout = (Number.isFinite(o.budgetS) ? o.budgetS * 1.5 : 7200) * 1000 + 120_000;
    rep = await runInChromium(here, pageQuery(argv), timeout);
    rep.cpu = cpus()[0]?.model ?? rep.cpu;
    rep.load_avg_start = load0;
    rep.load_avg_end = loadavg()[0];
  } else {
    rep = await runBench(o, {
      cores: availableParallelism?.() ?? cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAvg: () => loadavg()[0],
      wasmDir: here,
      torch: torchHost(o),
      log: { line: (s) => console.log(s), part: (s) => process.stdout.write(s) },
    });
  }
  const workloads = selectWorkloads(o.filter);
  if (!o.browser) {
    // (the page printed these already)
    console.log(textTable(rep, workloads));
    if (rep.notes.length) console.log('\nnotes:\n' + rep.notes.map((n) => `  ${n}`).join('\n'));
  }
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
