// Pipelines made ahead of need. Compiling a kernel costs the driver from a
// few to a few hundred milliseconds the first time it runs in a process (40
// pipelines, 424 ms, on the cover path on lavapipe), and WebGPU can do it off
// the JavaScript thread (createComputePipelineAsync). A caller that knows
// which pipelines a task will use, for instance from an earlier run's
// pipelinesUsed(), starts them with warmPipelines() and goes on with host
// work (decoding a song) meanwhile.
import { getDevice } from './device.js';
import { kernelNamed, kernelsMade } from './kernels.js';

/** One pipeline: a kernel by name (its profile name), an entry point and its override constants. */
export interface PipelineKey {
  kernel: string;
  entry: string;
  constants: Record<string, number>;
}

/** Every pipeline the current device's work has asked for so far (the tuner's probes included, when it ran; not those only warmed). */
export function pipelinesUsed(): PipelineKey[] {
  const device = getDevice();
  return kernelsMade().flatMap((k) => k.pipelineKeys(device).map((p) => ({ kernel: k.file, ...p })));
}

/**
 * Start making these pipelines in the background; resolves when all are
 * settled with how many are ready and how many were skipped (a kernel or
 * entry this build does not have, constants it does not declare, a feature
 * the device lacks). A bad or stale list never throws and costs only the
 * skips; the runtime must be initialised (init()).
 */
export async function warmPipelines(keys: readonly PipelineKey[]): Promise<{ ready: number; skipped: number }> {
  const device = getDevice();
  const results = await Promise.all(keys.map((p) => {
    const k = typeof p?.kernel === 'string' ? kernelNamed(p.kernel) : undefined;
    if (!k || typeof p.entry !== 'string' || !p.constants || typeof p.constants !== 'object') return Promise.resolve(false);
    return k.warm(device, p.entry, p.constants);
  }));
  const ready = results.filter(Boolean).length;
  return { ready, skipped: results.length - ready };
}
