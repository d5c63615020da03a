// One GPUDevice for the whole runtime. Browser code gets it from
// navigator.gpu; the Node entry installs a provider backed by Dawn; any caller
// may hand in a device of its own.

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
}

export interface InitOptions {
  /** Use this device instead of requesting one. */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
  /** Time kernel variants on this adapter and keep the fastest (default true). */
  tune?: boolean;
}

type GpuProvider = () => GPU | undefined;

let provider: GpuProvider = () =>
  (typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }).gpu : undefined);
let current: GPUDevice | null = null;
// Smallest subgroup the adapter may run (0: unknown, treated as no subgroups).
let subgroupMin = 0;
let adapterReport: AdapterReport = { vendor: 'unknown', architecture: '', description: 'injected device', device: '' };
let pendingError: Error | null = null;
let lostInfo: string | null = null;

export const NO_ADAPTER_HELP =
  'sleeve: no WebGPU adapter found. In Node install a Vulkan driver (Debian/Ubuntu: ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` for the CPU driver lavapipe, Mesa 23 or newer) ' +
  'and the npm package `webgpu`, or run `npm run setup`; in a browser enable WebGPU (Chrome 113+, or --enable-unsafe-webgpu).';

/** Node entry point calls this so `init()` can find Dawn without the runtime importing it. */
export function setGpuProvider(p: GpuProvider): void {
  provider = p;
}

export async function initDevice(opts: InitOptions = {}): Promise<GPUDevice> {
  if (opts.device) {
    adopt(opts.device, null);
    return opts.device;
  }
  if (current) return current;
  const gpu = provider();
  if (!gpu) throw new Error(NO_ADAPTER_HELP);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  // Ask for what the adapter can do: big STFT batches and conv activations
  // exceed the 128 MiB default storage binding.
  const want: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
    // the adapter's finest: ops split over the binding limit start ranges on it
    'minStorageBufferOffsetAlignment',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of want) {
    const v = adapter.limits[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  // Subgroups let kernels share loaded values between lanes (see kernels that
  // `enable subgroups`); kernels fall back to plain loads where it is missing.
  // timestamp-query serves profile().
  const requiredFeatures = (['subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  adopt(device, adapter);
  return device;
}

function adopt(device: GPUDevice, adapter: GPUAdapter | null): void {
  current = device;
  const sizes = (adapter?.info ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo) as { subgroupMinSize?: number } | undefined;
  subgroupMin = sizes?.subgroupMinSize ?? 0;
  pendingError = null;
  lostInfo = null;
  const info = adapter?.info ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (info) {
    adapterReport = {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      description: info?.description ?? '',
      device: info?.device ?? '',
    };
  }
  // Validation errors do not throw in WebGPU: keep the first one and raise it
  // on the next flush/read so a broken kernel cannot pass silently.
  device.addEventListener('uncapturederror', (ev: Event) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    if (!pendingError) pendingError = new Error(`sleeve: WebGPU error: ${err.message}`);
  });
  device.lost.then((info) => {
    if (current === device) lostInfo = `${info.reason}: ${info.message}`;
  });
}

export function getDevice(): GPUDevice {
  if (!current) throw new Error('sleeve: runtime not initialised: `await init()` first');
  if (lostInfo) throw new Error(`sleeve: GPU device lost (${lostInfo})`);
  return current;
}

/**
 * Whether kernels may `enable subgroups` and count on at least `minLanes`
 * lanes per subgroup (the device has the feature and the adapter says so).
 */
export function hasSubgroups(minLanes = 8): boolean {
  if (!current || !current.features.has('subgroups')) return false;
  return subgroupMin >= minLanes;
}

export function hasDevice(): boolean {
  return current !== null;
}

/** Throws (once) the first uncaptured WebGPU error seen since the last check. */
export function raisePendingError(): void {
  if (pendingError) {
    const e = pendingError;
    pendingError = null;
    throw e;
  }
}

export function adapterInfo(): AdapterReport {
  return { ...adapterReport };
}

/** Forget the device (tests and benchmarks that switch devices). */
export function resetDevice(): void {
  current = null;
}
