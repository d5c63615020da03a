// The runtime in a real browser: Debian's Chromium (driven by playwright-core,
// which never downloads a browser) loads the browser bundle from 127.0.0.1,
// runs a matmul, its gradients and a gradient of a gradient on navigator.gpu
// (SwiftShader when there is no GPU), and must get Node's numbers.
//
// Skips, saying why, when there is no Chromium or the page has no WebGPU
// adapter; SLEEVE_REQUIRE_BROWSER=1 (set by .ci/run) turns a skip into a
// failure. SLEEVE_CHROMIUM overrides the browser binary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { setup, sl, rng, randArray, f32, expectClose } from './helpers.js';
import { runCase, type CaseInput, type CaseOutput } from './browser/case.js';
import { CHROMIUM_ARGS, chromiumPath } from '../bench/browser_host.js';

const CHROMIUM = chromiumPath();
const REQUIRED = process.env.SLEEVE_REQUIRE_BROWSER === '1';

/** The browser bundle, built in memory with the options of scripts/build.mjs so it is never stale. */
async function browserBundle(): Promise<string> {
  const r = await build({
    entryPoints: ['runtime/index.ts'],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    loader: { '.wgsl': 'text' },
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

async function caseModule(): Promise<string> {
  const r = await build({ entryPoints: ['test/browser/case.ts'], bundle: true, write: false, platform: 'browser', format: 'esm', logLevel: 'silent' });
  return r.outputFiles[0].text;
}

function serve(files: Record<string, { type: string; body: string }>): Promise<Server> {
  const server = createServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---- f64 reference --------------------------------------------------------

/** c = a·b with a [batch, m, k] and b [k, n]; loss Σ tanh(c); its gradients. */
function reference(inp: CaseInput): { matmul: Float64Array; loss: number; gradA: Float64Array; gradB: Float64Array } {
  const [batch, m, k] = inp.aShape, n = inp.bShape[1];
  const a = inp.a, b = inp.b;
  const c = new Float64Array(batch * m * n);
  const gA = new Float64Array(a.length), gB = new Float64Array(b.length);
  let loss = 0;
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[(p * m + i) * k + q] * b[q * n + j];
        c[(p * m + i) * n + j] = s;
        const t = Math.tanh(s);
        loss += t;
        const dc = 1 - t * t;
        for (let q = 0; q < k; q++) {
          gA[(p * m + i) * k + q] += dc * b[q * n + j];
          gB[q * n + j] += dc * a[(p * m + i) * k + q];
        }
      }
    }
  }
  return { matmul: c, loss, gradA: gA, gradB: gB };
}

// ---- the test -------------------------------------------------------------

let skipReason = existsSync(CHROMIUM) ? '' : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium, or set SLEEVE_CHROMIUM)`;
let server: Server | null = null;
let context: BrowserContext | null = null;
let page: Page | null = null;
let userDataDir = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  await setup();
  if (skipReason) return;
  const [runtimeJs, caseJs] = await Promise.all([browserBundle(), caseModule()]);
  server = await serve({
    '/': { type: 'text/html', body: readFileSync('test/browser/index.html', 'utf8') },
    '/runtime.js': { type: 'text/javascript', body: runtimeJs },
    '/case.js': { type: 'text/javascript', body: caseJs },
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'sleeve-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') pageErrors.push(`console.${m.type()}: ${m.text()}`);
  });
  const { port } = server.address() as AddressInfo;
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => (window as unknown as { sleeveLoaded?: boolean }).sleeveLoaded === true, undefined, { timeout: 30_000 })
    .catch((e: Error) => {
      throw new Error(`the test page did not load: ${e.message}\n${pageErrors.join('\n')}`);
    });
  const probe = await page.evaluate(() => (window as unknown as { sleeveProbe: () => Promise<string> }).sleeveProbe());
  if (probe !== 'ok') skipReason = `Chromium at ${CHROMIUM} has ${probe} (flags: ${CHROMIUM_ARGS.join(' ')})`;
});

afterAll(async () => {
  await context?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe('runtime in Chromium (navigator.gpu)', () => {
  it('matmul, its gradients and a gradient of a gradient match Node', async (ctx) => {
    if (skipReason) {
      if (REQUIRED) throw new Error(`browser test required (SLEEVE_REQUIRE_BROWSER=1) but ${skipReason}`);
      console.warn(`browser test skipped: ${skipReason}`);
      ctx.skip(skipReason);
    }
    // odd sizes: no dimension divides the matmul tile; b broadcasts over a's batch
    const r = rng(20240611);
    const input: CaseInput = {
      a: Array.from(f32(randArray(2 * 5 * 7, r))), aShape: [2, 5, 7],
      b: Array.from(f32(randArray(7 * 3, r))), bShape: [7, 3],
    };

    const inBrowser = await page!.evaluate(
      (inp) => (window as unknown as { sleeveRun: (i: CaseInput) => Promise<CaseOutput> }).sleeveRun(inp),
      input,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${pageErrors.join('\n')}`);
    });
    const inNode = await runCase(sl, input);
    console.log(`browser adapter: ${Object.values(inBrowser.adapter).filter(Boolean).join(' / ')}; node adapter: ${Object.values(inNode.adapter).filter(Boolean).join(' / ')}`);

    // Node's numbers are right: f32 results against the f64 reference (k = 7 terms,
    // tanh near ±1 for some entries, so 1e-4 relative plus 1e-5 absolute).
    const ref = reference(input);
    const loose = { rtol: 1e-4, atol: 1e-5 };
    expectClose(inNode.matmul, ref.matmul, loose, 'node matmul vs f64');
    expectClose([inNode.loss], [ref.loss], loose, 'node loss vs f64');
    expectClose(inNode.gradA, ref.gradA, loose, 'node ∂a vs f64');
    expectClose(inNode.gradB, ref.gradB, loose, 'node ∂b vs f64');

    // The browser gets Node's numbers: same WGSL, different driver (SwiftShader vs
    // lavapipe, or two GPUs), so only rounding may differ: 1e-5 relative, and 1e-6
    // absolute for entries near zero.
    const tight = { rtol: 1e-5, atol: 1e-6 };
    expect(inBrowser.matmul.length).toBe(2 * 5 * 3);
    expectClose(inBrowser.matmul, inNode.matmul, tight, 'browser vs node matmul');
    expectClose([inBrowser.loss], [inNode.loss], tight, 'browser vs node loss');
    expectClose(inBrowser.gradA, inNode.gradA, tight, 'browser vs node ∂a');
    expectClose(inBrowser.gradB, inNode.gradB, tight, 'browser vs node ∂b');
    expectClose(inBrowser.gradGradB, inNode.gradGradB, tight, 'browser vs node ∂(Σ(∂a)²)/∂b');
    expect(pageErrors).toEqual([]);
  });
});
