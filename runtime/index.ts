// The runtime's public surface (browser-safe: no node: imports anywhere below).
export { getDevice, adapterInfo, hasSubgroups, setGpuProvider, type AdapterReport, type InitOptions } from './device.js';
import { getEngine } from './engine.js';
export { getEngine };
export { setGridStride, getGridStride, setSubmitEvery, getSubmitEvery, type GridStride } from './engine.js';
export { Tensor, tensor, empty, tidy, keep, memory, sizeOf, type Shape } from './tensor.js';
export { grad, backward, noGrad, isGradEnabled, detach, type GradOptions } from './autograd.js';
export * from './ops/elementwise.js';
export * from './ops/shape.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export * from './ops/random.js';
export * from './ops/norm.js';
export * from './ops/pool.js';
export * from './ops/dropout.js';
export * from './ops/loss.js';
export * from './ops/conv.js';
export * from './ops/fft.js';
export * from './ops/frames.js';
import './methods.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { saveSafetensors, loadSafetensors, type Safetensors } from './io/safetensors.js';
export { pipelinesUsed, warmPipelines, type PipelineKey } from './warm.js';
import { initDevice, type InitOptions } from './device.js';
import { tune } from './tune.js';

/** Get (or adopt) the GPU device; then pick kernel variants for this adapter. */
export async function init(opts: InitOptions = {}): Promise<GPUDevice> {
  const device = await initDevice(opts);
  if (opts.tune !== false) await tune();
  return device;
}
export {
  tune, tuneShapes, setTuneStore, setMatmulVariant, matmulVariant, matmulStridedVariant, setConvVariant, convVariant, setConvGradVariant, convGradVariant,
  setGridVariant, gridVariant, registerProbe,
  type TuneResult, type Probe, type ShapeTuneResult, type TuneStore, type TuneOptions, type MatmulVariant, type ConvVariant, type ConvGradVariant, type GridVariant,
} from './tune.js';
import type { KernelTime } from './profiler.js';
export type { KernelTime };

/** Submit recorded work and wait until the GPU has finished it. */
export async function flush(): Promise<void> {
  await getEngine().sync();
}

/**
 * GPU time per kernel entry point of everything `fn` records, from timestamp
 * queries, largest first: `const times = await profile(() => step())`.
 * Each dispatch gets a pass of its own meanwhile, so time without it.
 */
export async function profile(fn: () => unknown): Promise<KernelTime[]> {
  return getEngine().profile(fn);
}
