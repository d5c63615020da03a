// GPU buffers reused by size class. A buffer released while the current
// command encoder may still use it is parked until the next submit, so a
// later upload (queue.writeBuffer runs before the pending commands) can never
// overwrite data an earlier, not yet submitted dispatch still reads.

const USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global in browsers and in Dawn's `globals`; fall back
  // to the spec values so this module loads before the Node entry installs them.
  const u = (globalThis as unknown as { GPUBufferUsage?: Record<string, number> }).GPUBufferUsage;
  const STORAGE = u?.STORAGE ?? 0x80, COPY_SRC = u?.COPY_SRC ?? 0x04, COPY_DST = u?.COPY_DST ?? 0x08;
  return STORAGE | COPY_SRC | COPY_DST;
}

/** Round up to 4 steps per octave (≤ 25 % waste), at least 256 bytes. */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  const octave = 2 ** Math.floor(Math.log2(b));
  const step = octave / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private parked: GPUBuffer[] = [];
  private sizes = new WeakMap<GPUBuffer, number>();
  private requested = new WeakMap<GPUBuffer, number>();
  /** Buffers handed out and not yet released. */
  live = 0;
  /** Buffers ever created by this pool (free or live). */
  created = 0;
  bytesCreated = 0;
  /** Test mode: fill every handed-out buffer with NaN so an element a kernel
   * forgets to write shows up as NaN instead of stale data. */
  poison = false;

  constructor(private device: GPUDevice, private usage: number = USAGE) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list && list.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage: this.usage });
      this.sizes.set(buf, size);
      this.created++;
      this.bytesCreated += size;
    }
    this.live++;
    this.requested.set(buf, bytes);
    if (this.poison) this.device.queue.writeBuffer(buf, 0, new Float32Array(size / 4).fill(NaN));
    return buf;
  }

  /** Bytes the current holder asked for (the buffer may be a larger class). */
  requestedBytes(buf: GPUBuffer): number | undefined {
    return this.requested.get(buf);
  }

  /** Give a buffer back; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    this.live--;
    this.parked.push(buf);
  }

  /** Called by the engine right after a submit. */
  afterSubmit(): void {
    for (const buf of this.parked) {
      const size = this.sizes.get(buf)!;
      let list = this.free.get(size);
      if (!list) this.free.set(size, (list = []));
      list.push(buf);
    }
    this.parked.length = 0;
  }

  /** Destroy every idle buffer (frees GPU memory between workloads). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) { b.destroy(); this.created--; this.bytesCreated -= this.sizes.get(b)!; }
    this.free.clear();
  }
}
