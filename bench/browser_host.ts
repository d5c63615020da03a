// The Node side of the page bench (bench/browser.ts): serve dist/bench/ on
// 127.0.0.1, and for --browser drive the system's Chromium through it with
// playwright-core (never a downloaded browser), printing the page's progress
// as it comes and returning its report.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { HOST_ONLY, VALUED } from './options.js';
import type { Report } from './report.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** The command line's options for the page, as a query string: host-only ones left out. */
export function pageQuery(argv: string[]): string {
  const q = new URLSearchParams();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const k = a.slice(2, eq < 0 ? undefined : eq);
    const v = eq >= 0 ? a.slice(eq + 1) : VALUED.includes(k) ? argv[++i] : '';
    if (!HOST_ONLY.includes(k)) q.append(k, v ?? '');
  }
  return q.toString().replace(/=(&|$)/g, '$1'); // bare flags: ?quick, not ?quick=
}

/** Serve `dir` (index.html, browser.js, tfjs-wasm's binaries). Cross-origin
 * isolated, so that tfjs-wasm may use threads as a page can. */
export function serveDir(dir: string, port: number): Promise<Server> {
  if (!existsSync(join(dir, 'index.html')) || !existsSync(join(dir, 'browser.js'))) {
    throw new Error(`bench: ${dir} has no index.html or browser.js: run node bench/build.mjs`);
  }
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '') || 'index.html';
    } catch {
      res.writeHead(400).end(); // a malformed escape
      return;
    }
    const file = join(dir, path);
    const type = TYPES[extname(file)];
    if (!type || path.includes('..') || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': type,
      'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    }).end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The Chromium binary: SLEEVE_CHROMIUM, else Debian's. */
export const chromiumPath = (): string => process.env.SLEEVE_CHROMIUM ?? '/usr/bin/chromium';

// --headless comes from `headless: true`; Playwright passes --user-data-dir
// itself for a persistent context (it rejects the flag in args). On a machine
// without a GPU, --enable-unsafe-webgpu alone gives Chromium's SwiftShader
// adapter (vendor google, architecture swiftshader); no Vulkan or ANGLE flag
// is needed.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** The page's report, after `timeoutMs` at most; the page's progress lines go to `log`. */
export async function runInChromium(dir: string, query: string, timeoutMs: number, log: (line: string) => void = console.log): Promise<Report & { browser: string }> {
  const exe = chromiumPath();
  if (!existsSync(exe)) throw new Error(`bench --browser: no Chromium at ${exe} (apt-get install chromium, or set SLEEVE_CHROMIUM)`);
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    throw new Error('bench --browser: playwright-core is not installed (npm install)');
  }
  const server = await serveDir(dir, 0);
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'log') log(m.text());
      else if (m.type() === 'error') log(`page console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${query ? `?${query}` : ''}`;
    await page.goto(url);
    const done = await page.waitForFunction(() => {
      const w = window as unknown as { sleeveBenchResult?: unknown; sleeveBenchError?: string };
      return w.sleeveBenchResult ?? (w.sleeveBenchError !== undefined ? { error: w.sleeveBenchError } : null);
    }, null, { timeout: timeoutMs, polling: 1000 });
    const r = (await done.jsonValue()) as Report | { error: string };
    if ('error' in r) throw new Error(`bench --browser: the page failed: ${r.error}`);
    return { ...r, browser: r.browser ?? `Chromium ${browser.version()}` };
  } finally {
    await browser.close();
    server.close();
  }
}
