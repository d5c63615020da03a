// Pipelines made ahead of need: warmPipelines() makes them off the JavaScript
// thread so the first dispatch finds them; pipelinesUsed() lists what the
// work asked for; a stale or malformed list is skipped, never thrown, and
// leaves no error on the device.
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, setup, sl } from './helpers.js';

beforeAll(setup);

/** Names of the pipelines the device compiles synchronously while fn runs. */
async function syncCompiles(fn: () => Promise<unknown>): Promise<string[]> {
  const dev = sl.getDevice();
  const orig = dev.createComputePipeline.bind(dev);
  const seen: string[] = [];
  dev.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
    seen.push(d.label ?? '');
    return orig(d);
  };
  try {
    await fn();
  } finally {
    dev.createComputePipeline = orig;
  }
  return seen;
}

describe('warmPipelines', () => {
  it('makes a pipeline in the background that the first dispatch then uses', async () => {
    // 13 rows: matmul_skinny_r13, made by nothing else in this file
    const key = { kernel: 'matmul_skinny_r13', entry: 'main', constants: {} };
    expect(sl.pipelinesUsed().some((p) => p.kernel === key.kernel)).toBe(false);
    expect(await sl.warmPipelines([key])).toEqual({ ready: 1, skipped: 0 });
    expect(sl.pipelinesUsed().some((p) => p.kernel === key.kernel)).toBe(false); // warmed, not yet used
    const a = sl.rand([13, 40], { seed: 1 }), b = sl.rand([40, 30], { seed: 2 });
    let got: Float32Array = new Float32Array();
    const compiled = await syncCompiles(async () => { got = await sl.matmul(a, b).read(); });
    expect(compiled.filter((l) => l.startsWith('matmul_skinny_r13'))).toEqual([]);
    const want = await sl.matmulWith('blocked', a, b).read();
    expectClose(got, want, { rtol: 1e-5, atol: 1e-5 }, 'warmed skinny vs blocked');
    expect(sl.pipelinesUsed()).toContainEqual(key);
    // without warming, the same kind of product compiles on first use (the probe is not blind)
    const c = sl.rand([11, 40], { seed: 3 });
    const cold = await syncCompiles(async () => { await sl.matmul(c, b).read(); });
    expect(cold.filter((l) => l.startsWith('matmul_skinny_r11'))).toHaveLength(1);
  });

  it('lists what the work asked for, and warming that list again finds everything ready', async () => {
    await sl.add(sl.rand([5]), sl.rand([5])).read();
    const used = sl.pipelinesUsed();
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((p) => typeof p.kernel === 'string' && typeof p.entry === 'string' && typeof p.constants === 'object')).toBe(true);
    expect(new Set(used.map((p) => JSON.stringify(p))).size).toBe(used.length);
    // the list survives JSON, as a cache file holds it
    const again = JSON.parse(JSON.stringify(used));
    expect(await sl.warmPipelines(again)).toEqual({ ready: used.length, skipped: 0 });
  });

  it('skips what it cannot make, throws nothing and leaves no error on the device', async () => {
    const bad = [
      { kernel: 'no_such_kernel.wgsl', entry: 'main', constants: {} },
      { kernel: 'matmul_skinny_r99', entry: 'main', constants: {} },
      { kernel: 'binary.wgsl', entry: 'no_such_entry', constants: {} },
      { kernel: 'binary.wgsl', entry: 'rows', constants: { NOT_DECLARED: 1 } },
      { kernel: 'binary.wgsl', entry: 'rows', constants: null },
      null, 42, { entry: 'main' },
    ] as unknown as sl.PipelineKey[];
    expect(await sl.warmPipelines(bad)).toEqual({ ready: 0, skipped: bad.length });
    expect(await sl.warmPipelines([])).toEqual({ ready: 0, skipped: 0 });
    // the device is fine: the next op reads back without a WebGPU error
    expect(Array.from(await sl.mul(sl.tensor([1, 2, 3], [3]), sl.tensor([2, 2, 2], [3])).read())).toEqual([2, 4, 6]);
  });
});
