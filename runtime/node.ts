// Node entry: the same runtime, with Dawn (npm package `webgpu`) as the GPU.
import { create, globals } from 'webgpu';
import { setGpuProvider } from './device.js';

Object.assign(globalThis, globals);
let gpu: GPU | undefined;
setGpuProvider(() => (gpu ??= create([]) as GPU));

export * from './index.js';
export { saveFile, loadFile } from './io/files.node.js';
