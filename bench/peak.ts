// What the adapter can do at best from a WGSL compute shader, in two probes:
//   fmaPeak:  fp32 FMAs in registers, no memory traffic in the loop;
//   loadPeak: loads from a 64 KiB storage buffer that stays in cache, and
//             from 16 KiB of workgroup memory, each lane at its own address,
//             as vec4s and as scalars.
// GFLOP/s figures in the table can be read against them (and against the
// card's datasheet peak, which a WGSL loop may not reach). A kernel that
// makes L loaded floats per FMA cannot beat 1 / (L / loads + 1 / FMAs) FMAs/s
// where the same cores do both (a CPU driver); on lavapipe both probes are
// ceilings of its generated code, which no kernel here can pass.
import * as sl from '../runtime/node.js';
import { waitDevice } from '../runtime/wait.js';

// 64 lanes, 16 independent chains of 4 FMAs per loop turn; `m` comes from a
// uniform so nothing folds. Each chain converges (|m| < 1), no inf.
const FMA_SHADER = /* wgsl */ `
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

/** LOADS_PER_TURN loads per loop turn, every lane at its own address (lane
 * i reads element i + 64·j: neighbouring lanes, neighbouring elements, as a
 * kernel reading a row does). The index wraps inside the 64 KiB storage
 * buffer, or the 16 KiB of workgroup memory (WebGPU's default limit) that
 * the workgroup first fills from it, so the probe measures the load path,
 * not the memory behind it. The fill (16 vec4 or 64 scalar loads a lane,
 * against at least 512 in the loop) is not counted: a slight underestimate. */
const LOADS_PER_TURN = 8;
type Ty = 'vec4<f32>' | 'f32';
const WG_BYTES = 16384;
const loadShader = (ty: Ty, space: 'storage' | 'workgroup'): string => {
  const wgLen = WG_BYTES / (ty === 'f32' ? 4 : 16);
  const from = space === 'storage' ? 'src' : 'sh';
  return /* wgsl */ `
struct P { iters: u32, m: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> src: array<${ty}>;
${space === 'workgroup' ? `var<workgroup> sh: array<${ty}, ${wgLen}>;` : ''}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
${space === 'workgroup'
    ? `  for (var k = li; k < ${wgLen}u; k += 64u) { sh[k] = src[k]; }
  workgroupBarrier();
  let n = ${wgLen}u;`
    : '  let n = arrayLength(&src); // a power of two'}
  var i = gid.x;
  var acc = ${ty}(0.0);
  for (var t = 0u; t < p.iters; t++) {
${Array.from({ length: LOADS_PER_TURN }, (_, j) => `    acc += ${from}[(i + ${64 * j}u) & (n - 1u)];`).join('\n')}
    i += ${64 * LOADS_PER_TURN}u;
  }
  out[gid.x] = dot(vec4<f32>(acc), vec4<f32>(1.0));
}`;
};

export interface Peak {
  /** GFLOP/s (fmaPeak) or G floats loaded per second (loadPeak) */
  rate: number;
  workgroups: number;
  /** loop turns per lane */
  iters: number;
  ms: number;
}

/** Grow the grid, then the loop, until one dispatch takes ≥ 150 ms; best of 3.
 * `work(workgroups, iters)` is what one dispatch does, in the rate's unit. */
async function probe(code: string, extra: GPUBuffer | null, work: (workgroups: number, iters: number) => number): Promise<Peak> {
  const device = sl.getDevice();
  const module = device.createShaderModule({ code });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  let workgroups = 64, iters = 64;
  let out: GPUBuffer | null = null;
  const run = async (): Promise<number> => {
    out?.destroy();
    out = device.createBuffer({ size: workgroups * 64 * 4, usage: GPUBufferUsage.STORAGE });
    device.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0]));
    device.queue.writeBuffer(uni, 4, new Float32Array([0.999]));
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: out } }, { binding: 1, resource: { buffer: uni } }];
    if (extra) entries.push({ binding: 2, resource: { buffer: extra } });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
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
  return { rate: work(workgroups, iters) / ms / 1e6, workgroups, iters, ms };
}

/** fp32 FMAs in registers: GFLOP/s (one FMA = 2 FLOP). */
export function fmaPeak(): Promise<Peak> {
  return probe(FMA_SHADER, null, (wg, iters) => 2 * wg * 64 * iters * 16 * 4);
}

export interface LoadPeaks {
  /** storage buffer */
  vec4: Peak;
  scalar: Peak;
  /** workgroup memory */
  workgroupVec4: Peak;
  workgroupScalar: Peak;
}

/** Loads from cache, each lane at its own address: G floats/s, as vec4
 * loads and as scalar ones, from a storage buffer and from workgroup memory. */
export async function loadPeak(): Promise<LoadPeaks> {
  const device = sl.getDevice();
  const src = device.createBuffer({ size: 65536, usage: GPUBufferUsage.STORAGE });
  const floats = (ty: Ty) => (wg: number, iters: number) => wg * 64 * iters * LOADS_PER_TURN * (ty === 'f32' ? 1 : 4);
  try {
    return {
      vec4: await probe(loadShader('vec4<f32>', 'storage'), src, floats('vec4<f32>')),
      scalar: await probe(loadShader('f32', 'storage'), src, floats('f32')),
      workgroupVec4: await probe(loadShader('vec4<f32>', 'workgroup'), src, floats('vec4<f32>')),
      workgroupScalar: await probe(loadShader('f32', 'workgroup'), src, floats('f32')),
    };
  } finally {
    src.destroy();
  }
}
