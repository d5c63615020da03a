// f32, NCHW, contiguous tensors on the GPU. Storage is reference counted so a
// reshape can share a buffer; the buffer returns to the pool when the last
// tensor using it is disposed (or garbage collected, as a backstop).
import { getEngine } from './engine.js';

export type Shape = readonly number[];

export class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) getEngine().pool.release(this.buffer);
  }
}

/** A recorded op: how to turn the output's gradient into the inputs'. */
export interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** Written in differentiable ops, so grad-of-grad works when the graph is kept.
   * needs[i] says whether input i's gradient is wanted; rules may skip the rest. */
  backward: (g: Tensor, needs: boolean[]) => (Tensor | null | undefined)[];
  /** Tensors the rule reads that are not inputs (argmax indices, batch
   * statistics). The node owns them: they live as long as the output. */
  saved?: Tensor[];
}

const finalizer = new FinalizationRegistry<Storage>((s) => {
  try {
    s.release();
  } catch {
    /* device gone: nothing to give back */
  }
});

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  readonly shape: number[];
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  /** Set when tidy() disposed tensors this one's backward needed. */
  historyFreed = false;
  name?: string;
  private _storage: Storage | null;

  constructor(shape: Shape, storage: Storage) {
    this.shape = [...shape];
    this.size = sizeOf(shape);
    if (storage.bytes < this.size * 4) throw new Error(`sleeve: storage of ${storage.bytes} bytes is too small for shape [${shape}]`);
    this._storage = storage;
    finalizer.register(this, storage, this);
    scopeTrack(this);
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`sleeve: tensor ${this.describe()} was disposed and cannot be used`);
    return this._storage;
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this._storage === null;
  }

  describe(): string {
    return `${this.name ? this.name + ' ' : ''}[${this.shape.join(', ')}]`;
  }

  dispose(): void {
    if (!this._storage) return;
    if (this.node) {
      for (const t of this.node.saved ?? []) t.dispose();
      // Anything recorded on top of this tensor can no longer go back through it.
      this.node = null;
      if (this.requiresGrad) this.historyFreed = true;
    }
    finalizer.unregister(this);
    const s = this._storage;
    this._storage = null;
    s.release();
  }

  /** Copy the values back to the host. Submits pending work. */
  async read(): Promise<Float32Array> {
    const ab = await getEngine().read(this.buffer, 0, this.size * 4);
    return new Float32Array(ab);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`sleeve: item() needs a tensor of one element, got ${this.describe()}`);
    return (await this.read())[0];
  }

  /** Nested arrays, like torch's tolist(). */
  async array(): Promise<unknown> {
    const data = await this.read();
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** Mark as a leaf that gradients flow to (like torch's requires_grad_()). */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`sleeve: invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A fresh tensor with an uninitialised buffer from the pool. */
export function empty(shape: Shape): Tensor {
  const n = sizeOf(shape);
  const bytes = Math.max(4, n * 4);
  return new Tensor(shape, new Storage(getEngine().pool.acquire(bytes), bytes));
}

/** Upload host values. */
export function tensor(data: ArrayLike<number> | Float32Array, shape?: Shape): Tensor {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  const s = shape ?? [arr.length];
  if (sizeOf(s) !== arr.length) throw new Error(`sleeve: ${arr.length} values do not fill shape [${s.join(', ')}]`);
  const t = empty(s);
  if (arr.length) getEngine().write(t.buffer, arr);
  return t;
}

/** A tensor sharing another's buffer with a new shape (same element count). */
export function view(t: Tensor, shape: Shape): Tensor {
  return new Tensor(shape, t.storage.retain());
}

// ---- tidy scopes -------------------------------------------------------

const scopes: Set<Tensor>[] = [];

function scopeTrack(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/** Keep a tensor alive past the enclosing tidy() scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) out.add(value);
  else if (value && typeof value === 'object' && !seen.has(value)) {
    seen.add(value);
    for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out, seen);
  }
}

/** Run fn; dispose every tensor it created except those it returns (and kept ones). */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('sleeve: tidy() takes a synchronous function; await outside it');
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  for (const t of survivors) {
    if (!t.node) continue;
    // An op whose inputs all outlive the scope keeps its history: what its
    // rule saved leaves the scope with it. Deeper freed history is cut.
    const inputsAlive = t.node.inputs.every((u) => !scope.has(u) || survivors.has(u));
    if (inputsAlive) for (const sv of t.node.saved ?? []) survivors.add(sv);
    else if (reachesAny(t, scope, survivors)) cutHistory(t);
  }
  for (const t of scope) {
    if (survivors.has(t)) scopeTrack(t);
    else t.dispose();
  }
  return result;
}

/** Does t's recorded history use a tensor this scope is about to dispose? */
function reachesAny(t: Tensor, scope: Set<Tensor>, survivors: Set<Tensor>): boolean {
  const seen = new Set<Tensor>();
  if ((t.node?.saved ?? []).some((sv) => scope.has(sv) && !survivors.has(sv))) return true;
  const stack = [...(t.node?.inputs ?? [])];
  while (stack.length) {
    const u = stack.pop()!;
    if (seen.has(u)) continue;
    seen.add(u);
    if (scope.has(u) && !survivors.has(u)) return true;
    for (const sv of u.node?.saved ?? []) if (scope.has(sv) && !survivors.has(sv)) return true;
    if (u.node) stack.push(...u.node.inputs);
  }
  return false;
}

/** The values survive the scope, the history does not: backward through
 * this tensor now fails with a message saying why. */
function cutHistory(t: Tensor): void {
  t.node = null;
  t.historyFreed = true;
}

/** Live buffer count, for leak checks. */
export function memory(): { liveBuffers: number; createdBuffers: number; bytesCreated: number } {
  const p = getEngine().pool;
  return { liveBuffers: p.live, createdBuffers: p.created, bytesCreated: p.bytesCreated };
}
