// GPU time per kernel from timestamp queries. While a profile runs, the
// engine gives every dispatch a compute pass of its own whose start and end
// the GPU stamps; on each submit the stamps are resolved into a buffer that
// is read back later, so recording never waits on the GPU. The separate
// passes cost a little themselves: profile to see where time goes, time
// without it.

/** GPU time spent in one kernel entry point during a profile. */
export interface KernelTime {
  /** "file:entry", e.g. "conv2d.wgsl:fwd" */
  kernel: string;
  calls: number;
  /** summed GPU time between each dispatch's pass start and end */
  ms: number;
}

const MAX_QUERIES = 2 * 512; // two stamps per dispatch, one submit's worth (engine auto-flushes at 512)

export class Profiler {
  private querySet: GPUQuerySet;
  private resolve: GPUBuffer;
  private labels: string[] = [];
  private pending: Promise<void>[] = [];
  private totals = new Map<string, { calls: number; ns: bigint }>();

  constructor(private device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    this.resolve = device.createBuffer({ size: MAX_QUERIES * 8, usage: 0x0200 | 0x0004 }); // QUERY_RESOLVE | COPY_SRC
  }

  /** Pass descriptor stamping the next dispatch, labelled `kernel`. */
  nextPass(kernel: string): GPUComputePassDescriptor {
    const i = this.labels.length * 2;
    this.labels.push(kernel);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 } };
  }

  /** Before the engine submits `enc`: copy this submit's stamps out. */
  beforeSubmit(enc: GPUCommandEncoder): (() => void) | null {
    const n = this.labels.length;
    if (n === 0) return null;
    const labels = this.labels;
    this.labels = [];
    const staging = this.device.createBuffer({ size: n * 16, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
    enc.resolveQuerySet(this.querySet, 0, n * 2, this.resolve, 0);
    enc.copyBufferToBuffer(this.resolve, 0, staging, 0, n * 16);
    // After the submit: read the stamps when the GPU is done with them.
    return () => {
      this.pending.push(staging.mapAsync(1).then(() => {
        const t = new BigInt64Array(staging.getMappedRange().slice(0));
        staging.unmap();
        staging.destroy();
        for (let k = 0; k < n; k++) {
          const d = t[2 * k + 1] - t[2 * k];
          const e = this.totals.get(labels[k]) ?? { calls: 0, ns: 0n };
          e.calls++;
          e.ns += d > 0n ? d : 0n;
          this.totals.set(labels[k], e);
        }
      }));
    };
  }

  /** Wait for every stamp and return the totals, largest first. */
  async finish(): Promise<KernelTime[]> {
    await Promise.all(this.pending);
    this.querySet.destroy();
    this.resolve.destroy();
    return [...this.totals]
      .map(([kernel, e]) => ({ kernel, calls: e.calls, ms: Number(e.ns) / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }
}
