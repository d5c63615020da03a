// The runtime's public entry must bundle for browsers as it is: no Node
// built-in and no Dawn (`webgpu` package) may leak in. esbuild with
// platform=browser already refuses to resolve node: modules; these checks
// also catch anything marked external or required lazily.
import { describe, expect, it } from 'vitest';
import { build, type Metafile } from 'esbuild';
import { builtinModules } from 'node:module';

interface Bundle {
  text: string;
  metafile: Metafile;
}

async function bundle(entry: { file: string } | { contents: string }): Promise<Bundle> {
  const r = await build({
    ...('file' in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.contents, resolveDir: process.cwd(), loader: 'ts' } }),
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    loader: { '.wgsl': 'text' },
    metafile: true,
    logLevel: 'silent',
    // only so the checker can be shown a leak: a real leak fails the build
    external: 'contents' in entry ? ['node:*', 'fs'] : [],
  });
  return { text: r.outputFiles[0].text, metafile: r.metafile };
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Module specifiers in the output that name a Node built-in or the Dawn package. */
function leaks(b: Bundle): string[] {
  const found = new Set<string>();
  const spec = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
  for (const m of b.text.matchAll(spec)) {
    const s = m[1];
    if (s.startsWith('node:') || builtins.has(s) || s === 'webgpu' || s.startsWith('webgpu/')) found.add(s);
  }
  for (const input of Object.keys(b.metafile.inputs)) {
    if (/(^|\/)node_modules\/webgpu\//.test(input)) found.add(input);
  }
  for (const out of Object.values(b.metafile.outputs)) {
    for (const imp of out.imports) if (imp.external) found.add(imp.path);
  }
  return [...found].sort();
}

describe('browser bundle of runtime/index.ts', () => {
  it('contains the runtime and its kernels, and no node: module or webgpu package', async () => {
    const b = await bundle({ file: 'runtime/index.ts' });
    // the kernels travelled as text, and the public API is there
    expect(b.text).toContain('@compute');
    expect(b.text).toMatch(/export\s*\{[^}]*\bmatmul\b/);
    expect(Object.keys(b.metafile.inputs).some((p) => p.endsWith('runtime/node.ts'))).toBe(false);
    expect(leaks(b)).toEqual([]);
    expect(b.text).not.toMatch(/["']node:[a-z_/]+["']/);
  });

  it('the leak check does see a node: import (so a pass above means something)', async () => {
    const b = await bundle({ contents: "import { readFileSync } from 'node:fs'; import fs2 from 'fs'; export const f = [readFileSync, fs2];" });
    expect(leaks(b)).toEqual(['fs', 'node:fs']);
  });
});
