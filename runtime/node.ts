// Node entry: the same runtime, with Dawn (npm package `webgpu`) as the GPU.
import { create, globals } from 'webgpu';
import { setGpuProvider } from './device.js';
import { setTuneStore } from './tune.js';
import { fileTuneStore } from './io/tune_store.node.js';
import { setWaiter, sleepyWaiter } from './wait.js';

Object.assign(globalThis, globals);
// Dawn polls while a promise is pending; sleep between its polls (wait.ts).
setWaiter(sleepyWaiter());
let gpu: GPU | undefined;
setGpuProvider(() => (gpu ??= create([]) as GPU));
// Kernel choices measured once per adapter and kernel set, kept on disk
// (SLEEVE_TUNE_CACHE=off: measure in every process).
if (process.env.SLEEVE_TUNE_CACHE !== 'off') setTuneStore(fileTuneStore());

export * from './index.js';
export { saveFile, loadFile } from './io/files.node.js';
export { fileTuneStore, defaultCacheDir } from './io/tune_store.node.js';
