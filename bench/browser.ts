// The bench in a browser page (bench/browser.html): the same session as
// `npm run bench`, on the page's navigator.gpu, with tfjs-webgpu, -wasm and
// -cpu in the same page. Options come from the query string, in the command
// line's words: ?filter=matmul,conv&quick&paired=4. PyTorch does not run
// here. `npm run bench -- --browser` drives this page in headless Chromium;
// `--serve` serves it for any browser.
import { parseArgs, queryArgs } from './options.js';
import { runBench, selectWorkloads } from './harness.js';
import { adapterSlug, htmlChart, textTable, type Report } from './report.js';

/** The browser's name and version from its user agent (Chrome/131.0…), else the whole string. */
function browserName(): string {
  const ua = navigator.userAgent;
  const m = /(HeadlessChrome|Chrome|Firefox|Version)\/([\d.]+)/.exec(ua);
  if (!m) return ua;
  return m[1] === 'Version' ? `Safari ${m[2]}` : `${m[1]} ${m[2]}`;
}

export interface PageResult {
  report: Report;
  /** the text table, as the command line prints it */
  table: string;
  /** the chart page (report.ts's htmlChart) */
  html: string;
  /** the <adapter> part of results-<adapter>.json */
  slug: string;
}

/** Run the bench the query asks for; each progress line goes to onLine. */
export async function benchPage(search: string, onLine: (s: string) => void): Promise<PageResult> {
  if (!('gpu' in navigator)) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const o = parseArgs(queryArgs(search));
  if (!o) throw new Error('--help and --list print to a terminal: run npm run bench -- --help');
  let pending = '';
  const report = await runBench(o, {
    cores: navigator.hardwareConcurrency ?? 0,
    cpu: 'unknown (a page cannot see it)',
    browser: browserName(),
    loadAvg: () => null,
    wasmDir: new URL('./', location.href).href,
    log: {
      line: (s) => {
        onLine(pending + s);
        pending = '';
      },
      part: (s) => {
        pending += s;
      },
    },
  });
  const workloads = selectWorkloads(o.filter);
  return { report, table: textTable(report, workloads), html: htmlChart(report, workloads), slug: adapterSlug(report.adapter) };
}
