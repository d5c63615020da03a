// The bench in a page (bench/browser.ts, driven by bench/browser_host.ts):
// the command line's options reach the page intact, and a page run in
// Chromium (SwiftShader without a GPU) checks and times sleeve's kernels and
// returns the report the command line writes.
//
// The page run skips, saying why, when there is no Chromium;
// SLEEVE_REQUIRE_BROWSER=1 (set by .ci/run) turns that skip into a failure.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseArgs, queryArgs } from '../bench/options.js';
import { chromiumPath, pageQuery, runInChromium, serveDir } from '../bench/browser_host.js';

const CHROMIUM = chromiumPath();
const REQUIRED = process.env.SLEEVE_REQUIRE_BROWSER === '1';

describe('bench page options', () => {
  it('carry every session option to the page and keep the host-only ones back', () => {
    const argv = ['--filter', 'matmul,conv', '--quick', '--paired=4', '--engines', 'sleeve,tfjs-webgpu', '--json', 'out.json',
      '--save', '--slug', 'x', '--browser', '--variant', 'conv=rows16', '--tune-shapes', '--cap', '12', '--port', '9000'];
    const q = pageQuery(argv);
    expect(q).not.toMatch(/json|save|slug|browser|port/);
    const inPage = parseArgs(queryArgs(`?${q}`))!;
    const direct = parseArgs(argv)!;
    for (const k of ['filter', 'engines', 'runs', 'warmup', 'capMs', 'budgetS', 'paired', 'quick', 'tuneShapes', 'variant', 'profile'] as const) {
      expect(inPage[k], k).toEqual(direct[k]);
    }
    expect(inPage.json).toBeNull();
    expect(inPage.save).toBe(false);
    expect(inPage.browser).toBe(false);
  });

  it('keep a bare flag bare and a value with separators whole', () => {
    expect(pageQuery(['--quick', '--filter', 'a,b'])).toBe('quick&filter=a%2Cb');
    expect(queryArgs('?quick&filter=a%2Cb')).toEqual(['--quick', '--filter', 'a,b']);
  });
});

describe('bench page server', () => {
  it('serves the page cross-origin isolated and nothing outside its folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sleeve-page-'));
    const dir = join(root, 'www');
    writeFileSync(join(root, 'secret.js'), 'no');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), '<p>page</p>');
    writeFileSync(join(dir, 'browser.js'), 'export {};');
    writeFileSync(join(dir, 'notes.txt'), 'no type');
    const server = await serveDir(dir, 0);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await fetch(`${base}/?filter=matmul`);
      expect(page.status).toBe(200);
      expect(await page.text()).toBe('<p>page</p>');
      expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect((await fetch(`${base}/browser.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${base}/notes.txt`)).status).toBe(404);
      expect((await fetch(`${base}/%2e%2e/secret.js`)).status).toBe(404);
      expect((await fetch(`${base}/..%2fsecret.js`)).status).toBe(404);
      expect((await fetch(`${base}/%E0%A4%A`)).status).toBe(400);
    } finally {
      server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('bench page in Chromium', () => {
  it('checks and times sleeve in the page and returns the report', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      if (REQUIRED) throw new Error(`SLEEVE_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
      ctx.skip();
    }
    const build = spawnSync(process.execPath, ['bench/build.mjs'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const dir = join('dist', 'bench');
    const lines: string[] = [];
    const rep = await runInChromium(dir, pageQuery(['--filter', 'op-chain', '--engines', 'sleeve', '--runs', '2', '--warmup', '1']), 180_000, (line) => lines.push(line));
    expect(rep.browser).toMatch(/Chrom/);
    expect(lines.some((l) => l.includes('op-chain — '))).toBe(true); // the page's progress came through
    expect(rep.adapter.vendor + rep.adapter.architecture).not.toBe('');
    expect(rep.fma_peak_gflops).toBeGreaterThan(0);
    const row = rep.results.find((r) => r.workload === 'op-chain' && r.engine === 'sleeve');
    expect(row, JSON.stringify(rep.skipped)).toBeDefined();
    expect(row!.check).toBe('ok');
    expect(row!.runs).toBeGreaterThanOrEqual(1);
    expect(row!.median_ms).toBeGreaterThan(0);
  }, 240_000);
});
