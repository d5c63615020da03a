import { defineConfig } from 'vitest/config';
import { readFileSync } from 'node:fs';

// WGSL files are imported as text everywhere: esbuild's text loader in the
// bundles, this transform under vitest.
export default defineConfig({
  plugins: [{
    name: 'wgsl-text',
    load(id: string) {
      if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
      return null;
    },
  }],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests measure kernel choices themselves rather than reading a cache file.
    env: { SLEEVE_TUNE_CACHE: 'off' },
    fileParallelism: false,
  },
});
