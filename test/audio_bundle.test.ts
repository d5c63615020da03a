// src/audio's browser-safe modules (everything but *.node.ts), the models and
// the song-to-cover path must bundle for browsers as they are, decoder and
// PNG encoder included: no Node built-in, no Dawn.
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { readdirSync } from 'node:fs';

describe('browser bundle of src/audio, src/models and src/cover.ts', () => {
  it('bundles with platform=browser and imports no node: module or webgpu package', async () => {
    const audio = readdirSync('src/audio').filter((f) => f.endsWith('.ts') && !f.endsWith('.node.ts'));
    expect(audio).toEqual(expect.arrayContaining(['decode.ts', 'features.ts', 'png.ts', 'npy.ts', 'slices.ts']));
    const modules = [...audio.map((m) => `audio/${m}`), 'models/index.ts', 'cover.ts'];
    const r = await build({
      stdin: { contents: modules.map((m) => `export * from './src/${m.replace(/\.ts$/, '.js')}';`).join('\n'), resolveDir: process.cwd(), loader: 'ts' },
      bundle: true, write: false, platform: 'browser', format: 'esm', loader: { '.wgsl': 'text' }, metafile: true, logLevel: 'silent',
    });
    const text = r.outputFiles[0].text;
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const spec = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;
    const leaks = [...text.matchAll(spec)].map((m) => m[1]).filter((s) => builtins.has(s) || s.startsWith('node:') || s === 'webgpu');
    expect(leaks).toEqual([]);
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.some((p) => p.includes('node_modules/mpg123-decoder/'))).toBe(true);
    expect(inputs.some((p) => p.includes('node_modules/fast-png/'))).toBe(true);
    expect(inputs.some((p) => /node_modules\/webgpu\//.test(p) || p.endsWith('runtime/node.ts'))).toBe(false);
    expect(text).toMatch(/export\s*\{[^}]*\bextractFeatures\b/);
    expect(text).toMatch(/export\s*\{[^}]*\bmakeCover\b/);
    expect(text).toMatch(/export\s*\{[^}]*\bGenreClassifier\b/);
  });
});
