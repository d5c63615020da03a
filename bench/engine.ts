// What the harness needs from an engine: prepare a workload (upload inputs,
// build the step), then run it once for the correctness check and many times
// for the clock. run() returns only when the device has finished.
import type { InputCache, Workload } from './workloads.js';

export type Samples = Record<string, number[]>;

/** One kernel's share of a profiled run. */
export interface KernelShare {
  kernel: string;
  calls: number;
  ms: number;
}

export interface Prepared {
  /** One run whose outputs are read back and sampled (also a warm-up). */
  check(): Promise<Samples>;
  /** `reps` runs queued back to back (default 1), device work finished
   * before it resolves: one wait for many fast runs, as a GPU is used. */
  run(reps?: number): Promise<void>;
  /** Host time per run of the last run(), up to the wait for the device:
   * what the engine spends recording and launching the work. Set by engines
   * whose ops return before the device has run them (the WebGPU ones). */
  hostMs?: number;
  dispose(): void;
}

export interface Unsupported {
  unsupported: string;
}

export interface Engine {
  name: string;
  /** Extra lines for the header (versions, backends, adapters). */
  notes: string[];
  prepare(w: Workload, data: InputCache): Promise<Prepared | Unsupported>;
  /** The first device (validation) error since the last call, if the engine can see them. */
  takeError?(): string | null;
  /** Tune kernels per shape on what `fn` runs (engines with such a tuner): sites seen, how many
   * were measured, and the choices ("family: variant ×count", …). */
  tuneShapes?(fn: () => Promise<void>): Promise<{ sites: number; measured: number; chosen: string }>;
  /** GPU time per kernel of what `fn` runs (engines that can stamp their kernels). */
  profile?(fn: () => Promise<void>): Promise<KernelShare[]>;
  close?(): Promise<void>;
}

export const isUnsupported = (p: Prepared | Unsupported): p is Unsupported => 'unsupported' in p;
