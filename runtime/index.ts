// The runtime's public surface (browser-safe: no node: imports anywhere below).
export { init, getDevice, adapterInfo, setGpuProvider, type AdapterReport, type InitOptions } from './device.js';
export { getEngine } from './engine.js';
export { Tensor, tensor, empty, tidy, keep, memory, sizeOf, type Shape } from './tensor.js';
export { grad, backward, noGrad, isGradEnabled, detach, type GradOptions } from './autograd.js';
export * from './ops/elementwise.js';
export * from './ops/shape.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export * from './ops/random.js';
export async function flush(): Promise<void> {
  const { getEngine } = await import('./engine.js');
  await getEngine().sync();
}
