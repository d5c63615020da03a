// A Kernel is one WGSL file. Its bindings, uniform layout and workgroup sizes
// are read from the source with wgsl_reflect, so no table of bindings is kept
// by hand: a caller that names a binding the shader lacks (or forgets one)
// fails at once with the kernel's file and the binding's name.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

export type Constants = Record<string, number>;
export type UniformValue = number | number[];

interface ResourceInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage' | 'read-only-storage';
}

interface UniformField {
  name: string;
  offset: number;
  /** scalar component type of the field, and how many components it holds */
  component: 'u32' | 'i32' | 'f32';
  count: number;
}

export interface EntryInfo {
  name: string;
  workgroupSize: [number, number, number];
  resources: ResourceInfo[];
  uniform?: { name: string; size: number; fields: Map<string, UniformField> };
}

interface TypeLike {
  name: string;
  format?: TypeLike | null;
  count?: number;
  size?: number;
}

function componentOf(t: TypeLike): { component: 'u32' | 'i32' | 'f32'; count: number } {
  const n = t.name;
  if (n === 'u32' || n === 'i32' || n === 'f32') return { component: n, count: 1 };
  const vec = /^vec([234])([uif])?$/.exec(n);
  if (vec) {
    const inner = vec[2] ? ({ u: 'u32', i: 'i32', f: 'f32' } as const)[vec[2] as 'u' | 'i' | 'f'] : componentOf(t.format!).component;
    return { component: inner, count: Number(vec[1]) };
  }
  if (n === 'array') {
    const inner = componentOf(t.format!);
    return { component: inner.component, count: inner.count * (t.count ?? 0) };
  }
  throw new Error(`unsupported uniform field type ${n}`);
}

export class Kernel {
  private reflected: Map<string, EntryInfo> | null = null;
  // Per device: a pipeline belongs to the device that made it.
  private pipelines = new WeakMap<GPUDevice, Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>>();
  // Keys of the pipelines asked for (dispatched), not only made ahead by warm().
  private used = new WeakMap<GPUDevice, Set<string>>();

  /** `file`: the kernel's name in profiles and labels; `origin`: where its
   * source lives, for error messages (a generated kernel names its generator). */
  constructor(readonly file: string, readonly source: string, readonly origin = `kernels/${file}`) {}

  entry(name = 'main'): EntryInfo {
    if (!this.reflected) this.reflect();
    const e = this.reflected!.get(name);
    if (!e) throw new Error(`sleeve: ${this.origin} has no compute entry point "${name}"`);
    return e;
  }

  private reflect(): void {
    let r: WgslReflect;
    try {
      r = new WgslReflect(this.source);
    } catch (err) {
      throw new Error(`sleeve: ${this.origin} does not parse: ${(err as Error).message}`);
    }
    const uniformTypes = new Map<string, { size: number; fields: Map<string, UniformField> }>();
    for (const u of r.uniforms) {
      const fields = new Map<string, UniformField>();
      const members = (u.type as unknown as { members?: { name: string; offset: number; type: TypeLike }[] }).members ?? [];
      for (const m of members) {
        const c = componentOf(m.type);
        fields.set(m.name, { name: m.name, offset: m.offset, component: c.component, count: c.count });
      }
      uniformTypes.set(u.name, { size: u.size, fields });
    }
    this.reflected = new Map();
    for (const e of r.entry.compute) {
      const resources: ResourceInfo[] = [];
      let uniform: EntryInfo['uniform'];
      for (const res of e.resources) {
        if (res.group !== 0) throw new Error(`sleeve: ${this.origin}: only @group(0) is supported (${res.name})`);
        if (res.resourceType === 0) {
          resources.push({ name: res.name, binding: res.binding, kind: 'uniform' });
          const u = uniformTypes.get(res.name)!;
          uniform = { name: res.name, size: u.size, fields: u.fields };
        } else if (res.resourceType === 1) {
          resources.push({ name: res.name, binding: res.binding, kind: res.access === 'read' ? 'read-only-storage' : 'storage' });
        } else {
          throw new Error(`sleeve: ${this.origin}: binding ${res.name} is neither a storage buffer nor a uniform`);
        }
      }
      const ws = e.workgroupSize as unknown as number[] | null;
      this.reflected.set(e.name, {
        name: e.name,
        workgroupSize: [ws?.[0] ?? 1, ws?.[1] ?? 1, ws?.[2] ?? 1],
        resources: resources.sort((a, b) => a.binding - b.binding),
        uniform,
      });
    }
  }

  private cacheOf(device: GPUDevice): Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }> {
    let cache = this.pipelines.get(device);
    if (!cache) this.pipelines.set(device, (cache = new Map()));
    return cache;
  }

  private describe(device: GPUDevice, entryName: string, constants: Constants): { layout: GPUBindGroupLayout; desc: GPUComputePipelineDescriptor } {
    const entry = this.entry(entryName);
    const layout = device.createBindGroupLayout({
      label: `${this.file}:${entryName}`,
      entries: entry.resources.map((r) => ({
        binding: r.binding,
        visibility: 4, // GPUShaderStage.COMPUTE
        buffer: { type: r.kind },
      })),
    });
    const module = device.createShaderModule({ label: this.file, code: this.source });
    return {
      layout,
      desc: {
        label: `${this.file}:${entryName}`,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: entryName, constants },
      },
    };
  }

  pipeline(device: GPUDevice, entryName: string, constants: Constants = {}): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const key = entryName + JSON.stringify(constants);
    let used = this.used.get(device);
    if (!used) this.used.set(device, (used = new Set()));
    used.add(key);
    const cache = this.cacheOf(device);
    let p = cache.get(key);
    if (p) return p;
    const { layout, desc } = this.describe(device, entryName, constants);
    p = { pipeline: device.createComputePipeline(desc), layout };
    cache.set(key, p);
    return p;
  }

  /**
   * Make a pipeline in the background (createComputePipelineAsync: the
   * driver compiles off the JavaScript thread), so that pipeline() finds it
   * ready. If pipeline() asks first it makes its own, and this one is
   * dropped. Resolves false for an entry the kernel lacks or a pipeline the
   * device refuses, never throws.
   */
  async warm(device: GPUDevice, entryName: string, constants: Constants = {}): Promise<boolean> {
    const key = entryName + JSON.stringify(constants);
    const cache = this.cacheOf(device);
    if (cache.has(key)) return true;
    // A module the device cannot compile (a feature it lacks) would raise a
    // validation error on the device; this scope keeps it here.
    device.pushErrorScope('validation');
    let made: { layout: GPUBindGroupLayout; desc: GPUComputePipelineDescriptor } | null = null;
    let pending: Promise<GPUComputePipeline> | null = null;
    try {
      made = this.describe(device, entryName, constants);
      pending = device.createComputePipelineAsync(made.desc);
    } catch {
      // no such entry point
    }
    const err = await device.popErrorScope();
    if (!made || !pending) return false;
    try {
      const pipeline = await pending;
      if (err) return false;
      if (!cache.has(key)) cache.set(key, { pipeline, layout: made.layout });
      return true;
    } catch {
      return false; // e.g. an override constant the shader does not declare
    }
  }

  /** The entry points and constants of the pipelines asked for on the device (warm() alone does not count). */
  pipelineKeys(device: GPUDevice): { entry: string; constants: Constants }[] {
    // keys are entry + JSON of the constants; entry names hold no '{'
    return [...(this.used.get(device) ?? [])].map((k) => ({ entry: k.slice(0, k.indexOf('{')), constants: JSON.parse(k.slice(k.indexOf('{'))) as Constants }));
  }

  /** Pack named uniform values into the struct layout the shader declares. */
  packUniforms(entryName: string, values: Record<string, UniformValue>): ArrayBuffer | null {
    const entry = this.entry(entryName);
    if (!entry.uniform) {
      if (Object.keys(values).length) throw new Error(`sleeve: ${this.origin}:${entryName} takes no uniforms, got ${Object.keys(values).join(', ')}`);
      return null;
    }
    const buf = new ArrayBuffer(Math.ceil(entry.uniform.size / 16) * 16);
    const dv = new DataView(buf);
    for (const [name, v] of Object.entries(values)) {
      const f = entry.uniform.fields.get(name);
      if (!f) throw new Error(`sleeve: ${this.origin}: uniform struct has no field "${name}"`);
      const arr = typeof v === 'number' ? [v] : v;
      if (arr.length > f.count) throw new Error(`sleeve: ${this.origin}: uniform "${name}" holds ${f.count} values, got ${arr.length}`);
      for (let i = 0; i < arr.length; i++) {
        const o = f.offset + 4 * i;
        if (f.component === 'f32') dv.setFloat32(o, arr[i], true);
        else if (f.component === 'u32') dv.setUint32(o, arr[i] >>> 0, true);
        else dv.setInt32(o, arr[i] | 0, true);
      }
    }
    for (const f of entry.uniform.fields.values()) {
      if (!(f.name in values) && !f.name.startsWith('_')) {
        throw new Error(`sleeve: ${this.origin}: uniform field "${f.name}" not given`);
      }
    }
    return buf;
  }
}
