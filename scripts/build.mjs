// Bundles the runtime for Node and for browsers, and the demo, with esbuild.
// WGSL files become strings (text loader), so a bundle carries its kernels.
//
//   dist/runtime.node.js     runtime/node.ts: Dawn via the `webgpu` package (left external)
//   dist/runtime.browser.js  runtime/index.ts: navigator.gpu only, no node: imports
//   dist/demo.js             src/demo.ts, the `npm start` demo
//   dist/cli/features.js     src/cli/features.node.ts, `sleeve features` (webgpu and
//                            mpg123-decoder left external: the decoder's Node build
//                            loads its worker support through require())
//   dist/cli/cover.js        src/cli/cover.node.ts, `sleeve cover` (the same externals)
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  loader: { '.wgsl': 'text' },
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['runtime/node.ts'],
    outfile: 'dist/runtime.node.js',
    platform: 'node',
    target: 'node20',
    external: ['webgpu'],
  }),
  build({
    ...common,
    entryPoints: ['runtime/index.ts'],
    outfile: 'dist/runtime.browser.js',
    platform: 'browser',
    target: 'es2022',
  }),
  build({
    ...common,
    entryPoints: ['src/demo.ts'],
    outfile: 'dist/demo.js',
    platform: 'node',
    target: 'node20',
    external: ['webgpu'],
  }),
  build({
    ...common,
    entryPoints: ['src/cli/features.node.ts'],
    outfile: 'dist/cli/features.js',
    platform: 'node',
    target: 'node20',
    external: ['webgpu', 'mpg123-decoder'],
  }),
  build({
    ...common,
    entryPoints: ['src/cli/cover.node.ts'],
    outfile: 'dist/cli/cover.js',
    platform: 'node',
    target: 'node20',
    external: ['webgpu', 'mpg123-decoder'],
  }),
]);
