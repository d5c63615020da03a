// Bundles the bench into dist/bench/bench.js (one ESM file: runtime, kernels
// as text, workloads, the tfjs peers) with the tfjs-wasm binaries and
// torch_bench.py beside it. Only 'webgpu' (Dawn's native addon) stays outside.
//
//   node bench/build.mjs          build
//   node bench/build.mjs --pack   also copy the webgpu package (linux-x64 only)
//                                 into dist/bench/node_modules, so dist/bench
//                                 alone runs on another machine
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bench');
const require = createRequire(join(root, 'package.json'));
const pack = process.argv.includes('--pack');

// Peers that are not installed stay external: their import fails at run time
// and the bench reports them as skipped.
const peers = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'];
const missing = peers.filter((p) => {
  try {
    require.resolve(p);
    return false;
  } catch {
    return true;
  }
});
if (missing.length) console.warn(`bench build: not installed, will be skipped at run time: ${missing.join(', ')}`);

// Op modules that may exist before runtime/index.ts exports them.
const extraFiles = [
  ['runtime/ops/conv.ts', '*'], ['runtime/ops/norm.ts', '*'], ['runtime/ops/pool.ts', '*'], ['runtime/ops/loss.ts', '*'],
  ['runtime/ops/fft.ts', '*'], ['runtime/ops/dropout.ts', '*'], ['runtime/nn/index.ts', 'nn'], ['runtime/optim/index.ts', 'optim'],
];
const extras = {
  name: 'sleeve-extras',
  setup(b) {
    b.onResolve({ filter: /^sleeve:extras$/ }, () => ({ path: 'extras', namespace: 'sleeve-extras' }));
    b.onLoad({ filter: /.*/, namespace: 'sleeve-extras' }, () => {
      const present = extraFiles.filter(([f]) => existsSync(join(root, f)));
      const lines = present.map(([f, as]) => (as === '*' ? `export * from './${f}';` : `export * as ${as} from './${f}';`));
      lines.push(`export const names = ${JSON.stringify(present.map(([f]) => f))};`);
      return { contents: lines.join('\n'), resolveDir: root, loader: 'js' };
    });
  },
};

mkdirSync(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['bench/run.ts'],
  outfile: join(out, 'bench.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // ES builds of tfjs: its gradients (a separate side-effect module) must share one tfjs-core
  mainFields: ['module', 'main'],
  loader: { '.wgsl': 'text' },
  external: ['webgpu', 'playwright-core', ...missing],
  plugins: [extras],
  // CommonJS inside the bundle (tfjs's Node builds, emscripten's loader) needs these in ESM
  banner: {
    js: [
      "import { createRequire as __benchRequire } from 'node:module';",
      "import { fileURLToPath as __benchPath } from 'node:url';",
      "import { dirname as __benchDir } from 'node:path';",
      'const require = __benchRequire(import.meta.url);',
      'const __filename = __benchPath(import.meta.url);',
      'const __dirname = __benchDir(__filename);',
    ].join('\n'),
  },
  logLevel: 'warning',
  legalComments: 'none',
});

// The same bench for a page (bench/browser.ts, served with bench/browser.html
// as index.html by --serve and --browser): the runtime's browser entry in
// place of runtime/node.ts, tfjs's browser builds; Dawn is never imported there.
const browserRuntime = {
  name: 'sleeve-browser-runtime',
  setup(b) {
    b.onResolve({ filter: /runtime\/node\.js$/ }, () => ({ path: join(root, 'runtime', 'index.ts') }));
  },
};
await build({
  absWorkingDir: root,
  entryPoints: ['bench/browser.ts'],
  outfile: join(out, 'browser.js'),
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'esm',
  mainFields: ['browser', 'module', 'main'],
  loader: { '.wgsl': 'text' },
  external: ['webgpu', ...missing],
  plugins: [extras, browserRuntime],
  logLevel: 'warning',
  legalComments: 'none',
});
copyFileSync(join(root, 'bench', 'browser.html'), join(out, 'index.html'));

// tfjs-wasm loads its .wasm at run time (setWasmPaths points here); torch_bench.py runs beside the
// bundle, with test/ref/audio_ref.py (the features-30s definitions, numpy-cpu's pipeline) next to it.
if (!missing.includes('@tensorflow/tfjs-backend-wasm')) {
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const f of readdirSync(join(wasmDir, 'dist')).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, 'dist', f), join(out, f));
}
copyFileSync(join(root, 'bench', 'torch_bench.py'), join(out, 'torch_bench.py'));
copyFileSync(join(root, 'test', 'ref', 'audio_ref.py'), join(out, 'audio_ref.py'));

const packed = join(out, 'node_modules');
if (!pack) rmSync(packed, { recursive: true, force: true }); // no stale copy shadowing node_modules/webgpu
else {
  // Dawn for linux-x64 only: index.js, package.json and dist/linux-x64/dawn.node
  const src = dirname(require.resolve('webgpu/package.json'));
  const dst = join(out, 'node_modules', 'webgpu');
  mkdirSync(join(dst, 'dist', 'linux-x64'), { recursive: true });
  for (const f of ['index.js', 'package.json', 'dist/linux-x64/dawn.node']) copyFileSync(join(src, f), join(dst, f));
}

const size = (d) => readdirSync(d).reduce((s, f) => {
  const p = join(d, f);
  const st = statSync(p);
  return s + (st.isDirectory() ? size(p) : st.size);
}, 0);
console.log(`bench build: ${relative(root, out)}/ (${(size(out) / 2 ** 20).toFixed(1)} MiB${pack ? ', with webgpu for linux-x64' : ''})`);
