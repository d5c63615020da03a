// Output: the human table (stdout), the JSON file and a self-contained HTML
// chart of each peer's time relative to sleeve's.
import type { Workload } from './workloads.js';

export interface Result {
  workload: string;
  engine: string;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  runs: number;
  /** Runs queued per timed sample (> 1 for runs under BATCH_MS): times are per run. */
  batch?: number;
  /** The only run was the first one (the check): it includes compilation and the read-back. */
  cold?: boolean;
  gflops?: number;
  gbps?: number;
  /** Median host time per run before the wait for the device (recording and
   * launching), for engines that report it (engine.ts Prepared.hostMs). */
  host_ms?: number;
  /** 'ok' | 'reference' | 'FAILED: …' | 'unchecked: …' */
  check: string;
  /** This engine's median over sleeve's (> 1: sleeve is faster). */
  ratio_vs_sleeve?: number;
  /** --profile: GPU time per kernel in one extra run, largest first. */
  kernels?: { kernel: string; calls: number; ms: number }[];
  /** --paired: this engine's runs alternated with sleeve's, pair by pair;
   * each pair's time ratio (this ÷ sleeve): their median and range. Load
   * that drifts during a run moves both halves of a pair alike. */
  paired?: { pairs: number; ratio_median: number; ratio_min: number; ratio_max: number };
}

export interface Skip {
  workload: string;
  engine: string;
  reason: string;
}

export interface Report {
  adapter: { vendor: string; architecture: string; description: string };
  date: string;
  cores: number;
  cpu: string;
  /** Node's version (a run from npm run bench) */
  node?: string;
  /** the browser's name and version (a run in a page: --browser, --serve) */
  browser?: string;
  /** 1-minute load average when the bench started and ended (other work skews
   * times); a page cannot see it */
  load_avg_start?: number;
  load_avg_end?: number;
  settings: Record<string, unknown>;
  notes: string[];
  /** GFLOP/s of a load-free fp32 FMA loop on this adapter (bench/peak.ts): the WGSL ceiling. */
  fma_peak_gflops?: number;
  /** G floats/s of cache-resident storage loads, each lane at its own address
   * (bench/peak.ts), as vec4 and scalar loads: the other WGSL ceiling. */
  load_peak_gfloats?: { vec4: number; scalar: number; workgroup_vec4?: number; workgroup_scalar?: number };
  results: Result[];
  skipped: Skip[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const fmtMs = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtRatio = (r: number | undefined) => (r === undefined ? '' : r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`);

const fmtRate = (v: number) => (v >= 10 ? v.toFixed(0) : v >= 0.01 ? v.toFixed(2) : v.toPrecision(2));

function rate(r: Result): string {
  if (r.gflops !== undefined) return `${fmtRate(r.gflops)} GFLOP/s`;
  if (r.gbps !== undefined) return `${fmtRate(r.gbps)} GB/s`;
  return '';
}

function pad(cells: string[][]): string[] {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  return cells.map((row) => row.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ').trimEnd());
}

/** The stdout table, one block per workload. */
/** '10', '10×40' (10 samples of 40 runs queued back to back) or '1 cold'. */
const hostOf = (r: Result): string => (r.host_ms === undefined ? '' : fmtMs(r.host_ms));
const runsOf = (r: Result): string => (r.cold ? '1 cold' : r.batch ? `${r.runs}×${r.batch}` : String(r.runs));

export function textTable(rep: Report, workloads: Workload[]): string {
  const lines: string[] = [];
  for (const w of workloads) {
    const rs = rep.results.filter((r) => r.workload === w.name);
    const sk = rep.skipped.filter((s) => s.workload === w.name);
    if (!rs.length && !sk.length) continue;
    lines.push('', `${w.name} — ${w.title}`);
    if (rs.length) {
      const rows = [['  engine', 'median ms', 'min', 'max', 'runs', 'host ms', 'rate', '÷ sleeve', 'check']];
      for (const r of rs) {
        const loud = r.check.startsWith('FAILED') ? `!!! ${r.check}` : r.check;
        rows.push([`  ${r.engine}`, fmtMs(r.median_ms), fmtMs(r.min_ms), fmtMs(r.max_ms), runsOf(r), hostOf(r), rate(r), fmtRatio(r.ratio_vs_sleeve), loud]);
      }
      lines.push(...pad(rows));
    }
    for (const s of sk) lines.push(`  ${s.engine}: skipped — ${s.reason}`);
  }
  return lines.join('\n');
}

/** The same table in Markdown (for bench/RESULTS.md). */
/** ' (paired 2.91×, 2.70–3.12× over 10)' after the ratio, when --paired ran. */
export const pairedCell = (r: Result): string =>
  r.paired ? ` (paired ${fmtRatio(r.paired.ratio_median)}, ${fmtRatio(r.paired.ratio_min)}–${fmtRatio(r.paired.ratio_max)} over ${r.paired.pairs})` : '';

export function markdownTable(rep: Report, workloads: Workload[]): string {
  const out = ['| workload | engine | median ms | min–max ms | runs | host ms | rate | ÷ sleeve | check |', '|---|---|---:|---:|---:|---:|---:|---:|---|'];
  for (const w of workloads) {
    for (const r of rep.results.filter((x) => x.workload === w.name)) {
      const check = r.check.startsWith('FAILED') ? `**${r.check}**` : r.check;
      out.push(`| ${w.name} | ${r.engine} | ${fmtMs(r.median_ms)} | ${fmtMs(r.min_ms)}–${fmtMs(r.max_ms)} | ${runsOf(r)} | ${hostOf(r)} | ${rate(r)} | ${fmtRatio(r.ratio_vs_sleeve)}${pairedCell(r)} | ${check} |`);
    }
    for (const s of rep.skipped.filter((x) => x.workload === w.name)) out.push(`| ${w.name} | ${s.engine} | — | — | 0 | | | | skipped: ${s.reason} |`);
  }
  return out.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Horizontal bars of each engine's time ÷ sleeve's, log scale, one group per workload. */
export function htmlChart(rep: Report, workloads: Workload[]): string {
  const colors: Record<string, string> = {
    sleeve: '#222', 'tfjs-webgpu': '#e8710a', 'tfjs-wasm': '#f4b400', 'tfjs-cpu': '#a142f4', 'torch-cpu': '#d93025', 'torch-cuda': '#1a73e8', 'numpy-cpu': '#188038',
  };
  const groups = workloads
    .map((w) => ({ w, rs: rep.results.filter((r) => r.workload === w.name && r.ratio_vs_sleeve !== undefined) }))
    .filter((g) => g.rs.length);
  const all = groups.flatMap((g) => g.rs.map((r) => r.ratio_vs_sleeve!));
  const lo = Math.min(0.1, ...all) / 1.5, hi = Math.max(10, ...all) * 1.5;
  const L = Math.log10(lo), H = Math.log10(hi);
  const left = 190, width = 560, bar = 16, gap = 4;
  const x = (v: number) => left + ((Math.log10(v) - L) / (H - L)) * width;
  let y = 30;
  const parts: string[] = [];
  for (const { w, rs } of groups) {
    parts.push(`<text x="4" y="${y + 12}" font-weight="bold">${esc(w.name)}</text>`);
    y += 18;
    for (const r of rs) {
      const v = r.ratio_vs_sleeve!;
      const x0 = x(1), x1 = x(v);
      const failed = r.check.startsWith('FAILED');
      parts.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(r.engine)}${failed ? ' ⚠' : ''}</text>`);
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${bar}" fill="${colors[r.engine] ?? '#888'}"${failed ? ' fill-opacity="0.35"' : ''}><title>${esc(`${r.engine}: ${r.median_ms.toFixed(2)} ms (${v.toFixed(2)}× sleeve) — check: ${r.check}`)}</title></rect>`);
      parts.push(`<text x="${Math.max(x0, x1) + 4}" y="${y + 12}">${v >= 10 ? v.toFixed(0) : v.toFixed(2)}×</text>`);
      y += bar + gap;
    }
    y += 8;
  }
  const ticks = [0.01, 0.1, 0.3, 1, 3, 10, 30, 100, 1000].filter((t) => t >= lo && t <= hi);
  const axis = ticks.map((t) => `<line x1="${x(t)}" y1="22" x2="${x(t)}" y2="${y}" stroke="${t === 1 ? '#000' : '#ddd'}"/><text x="${x(t)}" y="16" text-anchor="middle">${t}×</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 80}" height="${y + 10}" font-family="sans-serif" font-size="12">${axis}${parts.join('')}</svg>`;
  const a = rep.adapter;
  const failed = rep.results.filter((r) => r.check.startsWith('FAILED'));
  return `<!doctype html><html><head><meta charset="utf-8"><title>sleeve bench — ${esc(a.description || a.vendor)}</title>
<style>body{font-family:sans-serif;margin:20px;max-width:900px}small{color:#555}.bad{color:#b00020;font-weight:bold}</style></head><body>
<h2>sleeve bench: time relative to sleeve</h2>
<p>Each bar is an engine's median time divided by sleeve's on the same workload (log scale): right of the line, sleeve is faster.<br>
<small>Adapter: ${esc([a.vendor, a.architecture, a.description].filter(Boolean).join(' / '))} · ${esc(rep.date)} · ${rep.cores} cores (${esc(rep.cpu)}) · ${esc(rep.browser ?? `Node ${rep.node}`)}</small></p>
${failed.length ? `<p class="bad">Failed correctness checks: ${failed.map((r) => esc(`${r.workload}/${r.engine}`)).join(', ')} (faded bars; their times are not to be trusted).</p>` : ''}
${svg}
<p><small>${rep.notes.map(esc).join('<br>')}</small></p>
${rep.skipped.length ? `<p><small>Skipped: ${rep.skipped.map((s) => esc(`${s.workload}/${s.engine}: ${s.reason}`)).join('<br>')}</small></p>` : ''}
</body></html>
`;
}

/** A file-name slug for the adapter: 'mesa-llvmpipe', 'nvidia-h100-80gb-hbm3', … */
export function adapterSlug(a: { vendor: string; architecture: string; description: string }): string {
  // the description up to its first ':' or '(' drops driver versions ('llvmpipe: Mesa 25.0.7 (LLVM 15)')
  const desc = (a.description || a.architecture || '').split(/[:(]/)[0].trim();
  const vendor = a.vendor && !desc.toLowerCase().includes(a.vendor.toLowerCase()) ? `${a.vendor} ` : '';
  return `${vendor}${desc}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'unknown';
}
