// Records dispatches into one command encoder (one compute pass) and submits
// only on read or flush: never one submit per op, never a map inside a step.
import { getDevice, raisePendingError } from './device.js';
import { BufferPool } from './pool.js';
import { BindingCache } from './bindings.js';
import type { Constants, Kernel, UniformValue } from './kernel.js';
import { Profiler, type KernelTime } from './profiler.js';
import { waitDevice } from './wait.js';

/** Submit anyway after this many dispatches, so a loop that never reads
 * cannot grow one command buffer without bound, and the device can start on
 * a long step while the rest is recorded. 512 unless setSubmitEvery. */
let submitEvery = 512;

/** Submit the recorded work every n dispatches (default 512; tfjs-webgpu
 * uses 15). Fewer lets a GPU start sooner, more costs fewer submits. */
export function setSubmitEvery(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`sleeve: setSubmitEvery: want a whole number ≥ 1, got ${n}`);
  submitEvery = n;
}

export function getSubmitEvery(): number {
  return submitEvery;
}
const MAX_WORKGROUPS = 65535;

/** bytes 0 means the device's maxStorageBufferBindingSize; tests lower it to
 * run the range-splitting paths (ops/split.ts) on small tensors. */
export const bindingCap = { bytes: 0 };

export interface DispatchArgs {
  entry?: string;
  constants?: Constants;
  /** Whole buffers, or byte ranges of them (offsets 256-byte aligned) for
   * ops that split work too big for one storage binding. */
  buffers: Record<string, GPUBuffer | GPUBufferBinding>;
  uniforms?: Record<string, UniformValue>;
  workgroups: [number, number?, number?];
}

class Engine {
  device: GPUDevice;
  pool: BufferPool;
  private uniformPool: BufferPool;
  /** Uniform buffers and bind groups reused across dispatches (bindings.ts). */
  bindings: BindingCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Whether the open encoder holds any command (it may be opened ahead). */
  private recorded = false;
  pending = 0;
  /** Counters for benchmarks and tests. */
  stats = { dispatches: 0, submits: 0 };
  /** Set while profile() runs: every dispatch then gets a timed pass of its own. */
  private profiler: Profiler | null = null;
  private readonly deviceMaxBinding: number;

  constructor(device: GPUDevice) {
    this.device = device;
    this.pool = new BufferPool(device);
    this.uniformPool = new BufferPool(device, 0x40 | 0x08); // UNIFORM | COPY_DST
    this.bindings = new BindingCache(device, this.uniformPool);
    this.deviceMaxBinding = device.limits.maxStorageBufferBindingSize;
  }

  /** Largest byte range one storage binding may cover on this device. */
  get maxBinding(): number {
    return bindingCap.bytes || this.deviceMaxBinding;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  dispatch(kernel: Kernel, a: DispatchArgs): void {
    const entryName = a.entry ?? 'main';
    const entry = kernel.entry(entryName);
    const { pipeline, layout } = kernel.pipeline(this.device, entryName, a.constants);
    const entries: GPUBindGroupEntry[] = [];
    const given = new Set(Object.keys(a.buffers));
    for (const r of entry.resources) {
      if (r.kind === 'uniform') {
        const data = kernel.packUniforms(entryName, a.uniforms ?? {})!;
        entries.push({ binding: r.binding, resource: { buffer: this.bindings.uniform(data), size: data.byteLength } });
      } else {
        const b = a.buffers[r.name];
        if (!b) throw new Error(`sleeve: ${kernel.origin}:${entryName} needs buffer "${r.name}", got ${[...given].join(', ') || 'none'}`);
        given.delete(r.name);
        entries.push({ binding: r.binding, resource: 'buffer' in b ? b : this.wholeBinding(b, kernel, entryName, r.name) });
      }
    }
    if (given.size) throw new Error(`sleeve: ${kernel.origin}:${entryName} has no binding named ${[...given].join(', ')}`);
    if (!entry.uniform && a.uniforms && Object.keys(a.uniforms).length) kernel.packUniforms(entryName, a.uniforms);
    const [x, y = 1, z = 1] = a.workgroups;
    if (x > MAX_WORKGROUPS || y > MAX_WORKGROUPS || z > MAX_WORKGROUPS) {
      throw new Error(`sleeve: ${kernel.origin}:${entryName}: ${x}×${y}×${z} workgroups exceeds ${MAX_WORKGROUPS} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const bindGroup = this.bindings.group(layout, entries);
    let pass: GPUComputePassEncoder;
    if (this.profiler) {
      pass = this.endPass().beginComputePass(this.profiler.nextPass(`${kernel.file}:${entryName}`));
      this.pass = pass;
    } else {
      pass = this.ensurePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.recorded = true;
    if (this.profiler) this.endPass();
    this.stats.dispatches++;
    if (++this.pending >= submitEvery) this.flush();
  }

  /** Bind a pooled buffer: only the bytes its tensor uses count against the
   * adapter's binding limit (the size class may round past it). Data that
   * itself exceeds the limit fails here, loudly, instead of being clamped. */
  private wholeBinding(b: GPUBuffer, kernel: Kernel, entry: string, name: string): GPUBufferBinding {
    const need = this.pool.requestedBytes(b) ?? b.size;
    if (need > this.maxBinding) {
      const mb = (x: number) => (x >= 2 ** 20 ? `${(x / 2 ** 20).toFixed(1)} MiB` : `${x} bytes`);
      throw new Error(`sleeve: ${kernel.origin}:${entry}: "${name}" holds ${mb(need)}, over this adapter's storage binding limit of ${mb(this.maxBinding)} (maxStorageBufferBindingSize); use a smaller batch`);
    }
    return { buffer: b, size: Math.min(b.size, this.deviceMaxBinding) };
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recorded = true;
    this.pending++;
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (this.encoder && this.recorded) {
      const enc = this.endPass();
      const afterSubmit = this.profiler?.beforeSubmit(enc);
      this.device.queue.submit([enc.finish()]);
      afterSubmit?.();
      this.encoder = null;
      this.recorded = false;
      this.stats.submits++;
      // Open the next command buffer now, while the device runs this one.
      // Opened after the device had gone idle, Dawn on lavapipe took 1–5 ms
      // to begin its first pass (1.3 ms after a 512³ matmul, 5.4 ms after
      // 1024³); opened ahead, about 0.1 ms.
      this.ensurePass();
    }
    this.pending = 0;
    this.uniformPool.afterSubmit();
    this.pool.afterSubmit();
    raisePendingError();
  }

  /** Upload host data into a buffer (ordered before the next submit). */
  write(dst: GPUBuffer, data: ArrayBufferView, dstOffset = 0): void {
    this.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(src: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(size, 4), usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
    if (size > 0) {
      this.endPass().copyBufferToBuffer(src, byteOffset, staging, 0, size);
      this.recorded = true;
    }
    this.flush();
    await waitDevice(staging.mapAsync(1)); // GPUMapMode.READ
    const out = staging.getMappedRange(0, size).slice(0);
    staging.unmap();
    staging.destroy();
    raisePendingError();
    return out;
  }

  /** Time every dispatch `fn` records on the GPU, per kernel entry point
   * (work recorded before is submitted first, untimed). Needs the adapter's
   * timestamp-query feature. */
  async profile(fn: () => unknown): Promise<KernelTime[]> {
    if (!this.device.features.has('timestamp-query')) {
      throw new Error('sleeve: profile() needs the timestamp-query feature, which this adapter or browser does not offer');
    }
    if (this.profiler) throw new Error('sleeve: profile() is already running');
    this.flush();
    const profiler = new Profiler(this.device);
    this.profiler = profiler;
    try {
      await fn();
      this.flush();
    } catch (err) {
      this.profiler = null;
      this.flush(); // what fn recorded before failing, so its stamps resolve
      await profiler.finish().catch(() => []); // frees the query set
      throw err;
    }
    this.profiler = null;
    await this.sync();
    return profiler.finish();
  }

  /** Wait until the queue is idle (benchmarks stop the clock after this). */
  async sync(): Promise<void> {
    this.flush();
    await waitDevice(this.device.queue.onSubmittedWorkDone());
    raisePendingError();
  }
}

let engine: Engine | null = null;

export function getEngine(): Engine {
  const device = getDevice();
  if (!engine || engine.device !== device) engine = new Engine(device);
  return engine;
}

export type { Engine };

/** The longest row grid2d can lay along x. */
export const MAX_ROW_2D = MAX_WORKGROUPS * 64;

/** Workgroup grid for rows × cols items, 64 along a row (x), rows in y and,
 * past the per-dimension limit, z. Kernels recover the row as gid.y + gid.z · nwg.y.
 * Rows longer than MAX_ROW_2D need a 1-D grid instead. */
export function grid2d(rows: number, cols: number): [number, number, number] {
  const z = Math.ceil(rows / MAX_WORKGROUPS);
  return [Math.ceil(cols / 64), Math.ceil(rows / z), z];
}

/**
 * How kernels that loop over their items with a grid stride (gridStride)
 * spread them: at least `perLane` items per lane, at most `maxGroups`
 * workgroups. lavapipe pays about half a microsecond per workgroup, more than
 * an elementwise op costs per 64 items, so there workgroups that each loop
 * run up to 3× faster than one item per lane; a GPU wants enough lanes in
 * flight to hide memory latency. The 'grid' probe (ops/elementwise.ts)
 * measures which; the default is one item per lane.
 */
export interface GridStride {
  perLane: number;
  maxGroups: number;
}

let stride: GridStride = { perLane: 1, maxGroups: Infinity };

export function setGridStride(s: GridStride): void {
  if (!(s.perLane >= 1) || !(s.maxGroups >= 1)) {
    throw new Error(`sleeve: grid stride needs perLane ≥ 1 and maxGroups ≥ 1, got ${s.perLane} and ${s.maxGroups}`);
  }
  stride = { ...s };
}

export function getGridStride(): GridStride {
  return { ...stride };
}

/** Workgroups for `units` of work that each give a lane about `perUnit` items,
 * spread as setGridStride says (kernels loop over units with a grid stride). */
export function strideGroups(units: number, perUnit = 1): number {
  return Math.max(1, Math.min(units, stride.maxGroups, Math.ceil((units * perUnit) / stride.perLane)));
}

/** Workgroup grid (64 lanes each) for a kernel whose lanes loop over n items
 * with a stride of all lanes launched: i = gid.x + gid.y · nwg.x · 64, then
 * i += nwg.x · nwg.y · 64. */
export function gridStride(n: number): [number, number, number] {
  return grid1d(strideGroups(Math.ceil(n / 64)) * 64, 64);
}

/** The 2-D grid (grid2d) for a kernel whose x covers a row's cols and whose
 * y·z strides over rows: whole rows of workgroups, as many as gridStride's
 * rule allows. */
export function gridStride2d(rows: number, cols: number): [number, number, number] {
  const x = Math.ceil(cols / 64);
  return grid2d(Math.max(1, Math.floor(strideGroups(x * rows) / x)), cols);
}

/** Workgroup grid for a 1-D problem of n items, folded into y past the per-dimension limit.
 * Kernels recover the flat index as gid.x + gid.y * nwg.x * WG. */
export function grid1d(n: number, wg: number): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= MAX_WORKGROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS);
  return [Math.ceil(groups / y), y, 1];
}
