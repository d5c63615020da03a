// What the adapter can do at best from a WGSL compute shader: fp32 FMAs in
// registers, no memory traffic in the loop. GFLOP/s figures in the table can
// be read against it (and against the card's datasheet peak, which a WGSL
// loop may not reach). On lavapipe it is the ceiling of its generated code,
// which no kernel here can pass.
import * as sl from '../runtime/node.js';
import { waitDevice } from '../runtime/wait.js';

// 64 lanes, 16 independent chains of 4 FMAs per loop turn; `m` comes from a
// uniform so nothing folds. Each chain converges (|m| < 1), no inf.
const SHADER = /* wgsl */ `
struct P { iters: u32, m: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let id = gid.x;
  var a: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { a[i] = f32(id % 7u + i); }
  let m = p.m;
  for (var t = 0u; t < p.iters; t++) {
    for (var i = 0u; i < 16u; i++) {
      a[i] = fma(a[i], m, 0.25);
      a[i] = fma(a[i], m, 0.5);
      a[i] = fma(a[i], m, 0.75);
      a[i] = fma(a[i], m, 1.0);
    }
  }
  var s = 0.0;
  for (var i = 0u; i < 16u; i++) { s += a[i]; }
  out[id] = s;
}`;

export interface Peak {
  gflops: number;
  workgroups: number;
  iters: number;
  ms: number;
}

/** Grow the grid, then the loop, until one dispatch takes ≥ 150 ms; best of 3. */
export async function fmaPeak(): Promise<Peak> {
  const device = sl.getDevice();
  const module = device.createShaderModule({ code: SHADER });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  let workgroups = 64, iters = 64;
  let out: GPUBuffer | null = null;
  const run = async (): Promise<number> => {
    out?.destroy();
    out = device.createBuffer({ size: workgroups * 64 * 4, usage: GPUBufferUsage.STORAGE });
    device.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0]));
    device.queue.writeBuffer(uni, 4, new Float32Array([0.999]));
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }, { binding: 1, resource: { buffer: uni } }] });
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await waitDevice(device.queue.onSubmittedWorkDone()); // no spinning: the loop runs on the same cores
    return performance.now() - t0;
  };
  await run(); // compile and warm
  let ms = await run();
  while (ms < 150) {
    // More lanes first (a GPU needs ~10⁵ in flight), then a longer loop.
    if (workgroups < 16384) workgroups *= 4;
    else iters *= 4;
    ms = await run();
  }
  ms = Math.min(ms, await run(), await run());
  (out as GPUBuffer | null)?.destroy();
  uni.destroy();
  // x = x·m + c: one FMA = 2 FLOP; the grid is a whole number of workgroups
  const flop = 2 * workgroups * 64 * iters * 16 * 4;
  return { gflops: flop / ms / 1e6, workgroups, iters, ms };
}
