// Module: the base of every layer and model, shaped after torch.nn.Module.
//
// Children, parameters and buffers are registered explicitly, by name, and kept
// in registration order:
//
//   class Net extends Module {
//     conv1 = this.register('conv1', new Conv2d(1, 8, 3));
//     fc = this.register('fc', new Linear(8, 10));
//     forward(x: Tensor) { return this.fc.call(flatten(this.conv1.call(x), 1)); }
//   }
//
// Explicit names (rather than walking the object's fields) keep the order and
// the checkpoint keys deterministic and independent of how a class stores
// things; they are the names torch would give ('conv1.weight', '0.bias', ...).
import { getEngine } from '../engine.js';
import { keep, sameShape, Tensor } from '../tensor.js';

export type StateDict = Record<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

function checkName(owner: Module, name: string, kind: string): void {
  if (!name || name.includes('.')) {
    throw new Error(`sleeve: ${owner.constructor.name}: ${kind} name "${name}" must be non-empty and contain no "."`);
  }
}

export abstract class Module {
  /** True in training mode (BatchNorm uses batch statistics, Dropout drops). */
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  private readonly _modules = new Map<string, Module>();

  /** The computation. Subclasses declare their own signature. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(...inputs: any[]): any;

  /** Run forward (what `module(x)` does in torch). */
  call(...inputs: Parameters<this['forward']>): ReturnType<this['forward']> {
    return this.forward(...inputs) as ReturnType<this['forward']>;
  }

  // ---- registration ---------------------------------------------------------

  /** Register a submodule (Module) or a parameter (Tensor) under `name`; returns it. */
  register<T extends Module | Tensor>(name: string, value: T): T {
    if (value instanceof Module) return this.registerModule(name, value) as T;
    if (value instanceof Tensor) return this.registerParameter(name, value) as T;
    throw new Error(`sleeve: ${this.constructor.name}.register("${name}"): expected a Module or a Tensor`);
  }

  /** A trainable tensor: marked requiresGrad and kept alive past tidy() scopes.
   * null registers the name with no tensor (like torch's bias=None). */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName(this, name, 'parameter');
    this.clash(name, this._buffers, this._modules);
    if (t) {
      if (t.node) throw new Error(`sleeve: ${this.constructor.name}: parameter "${name}" ${t.describe()} must be a leaf (no recorded history); detach it first`);
      keep(t).requiresGrad_(true);
      t.name ??= name;
    }
    this._parameters.set(name, t);
    return t;
  }

  /** A state tensor that is not trained (e.g. BatchNorm's running mean).
   * Persistent buffers go into stateDict(). */
  registerBuffer<T extends Tensor>(name: string, t: T, persistent = true): T {
    checkName(this, name, 'buffer');
    this.clash(name, this._parameters, this._modules);
    keep(t);
    t.name ??= name;
    this._buffers.set(name, { tensor: t, persistent });
    return t;
  }

  registerModule<T extends Module>(name: string, m: T): T {
    checkName(this, name, 'module');
    this.clash(name, this._parameters, this._buffers);
    if (m === (this as Module)) throw new Error(`sleeve: ${this.constructor.name}: a module cannot contain itself ("${name}")`);
    this._modules.set(name, m);
    return m;
  }

  private clash(name: string, ...others: Map<string, unknown>[]): void {
    if (others.some((o) => o.has(name))) throw new Error(`sleeve: ${this.constructor.name}: "${name}" is already registered as something else`);
  }

  // ---- traversal --------------------------------------------------------------

  /** Direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this._modules];
  }

  children(): Module[] {
    return [...this._modules.values()];
  }

  /** This module and every descendant (each once), depth first, self first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m._modules) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter once (a tensor shared by two layers is listed under its
   * first name), in registration order: a module's own before its children's. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, t] of m._parameters) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        out.push([p ? `${p}.${n}` : n, t]);
      }
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, b] of m._buffers) {
        if (seen.has(b.tensor)) continue;
        seen.add(b.tensor);
        out.push([p ? `${p}.${n}` : n, b.tensor]);
      }
    }
    return out;
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** fn on every descendant and then on this module (torch's Module.apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this._modules.values()) c.apply(fn);
    fn(this);
    return this;
  }

  // ---- modes and gradients ------------------------------------------------------

  /** Set training mode here and in every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freeze (false) or unfreeze (true) every parameter. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** Dispose every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Free every parameter and buffer (and gradient); the module is unusable after. */
  dispose(): void {
    this.zeroGrad();
    for (const t of this.parameters()) t.dispose();
    for (const t of this.buffers()) t.dispose();
  }

  // ---- state ------------------------------------------------------------------

  /** Parameters and persistent buffers by dotted name ('features.0.weight').
   * The values are the module's own tensors (not copies): do not dispose them.
   * Like torch, a tensor shared by two layers appears under both names. */
  stateDict(): StateDict {
    const out: StateDict = {};
    const walk = (m: Module, p: string): void => {
      for (const [n, t] of m._parameters) if (t) out[p + n] = t;
      for (const [n, b] of m._buffers) if (b.persistent) out[p + n] = b.tensor;
      for (const [n, c] of m._modules) walk(c, `${p}${n}.`);
    };
    walk(this, '');
    return out;
  }

  /** Local state keys a module accepts from a checkpoint and ignores
   * (BatchNorm2d: torch's num_batches_tracked). */
  protected ignoredStateKeys(): string[] {
    return [];
  }

  /**
   * Copy values from `dict` into this module's own tensors (they keep their
   * identity, so an optimiser built on them stays valid). Every key is checked
   * before anything is copied: a shape mismatch always throws, and with strict
   * (the default) so does a missing or unexpected key. The caller still owns
   * the tensors in `dict`; it may dispose them right after.
   */
  loadStateDict(dict: StateDict | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const given = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const ignored = new Set<string>();
    for (const [p, m] of this.namedModules()) for (const k of m.ignoredStateKeys()) ignored.add(p ? `${p}.${k}` : k);
    const missingKeys = Object.keys(own).filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !(k in own) && !ignored.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of given) {
      const mine = own[k];
      if (!mine) continue;
      if (!(t instanceof Tensor)) {
        mismatched.push(`${k} is not a Tensor`);
        continue;
      }
      if (t.disposed) mismatched.push(`${k} was disposed`);
      else if (!sameShape(t.shape, mine.shape)) mismatched.push(`${k}: checkpoint has [${t.shape.join(', ')}], model has [${mine.shape.join(', ')}]`);
    }
    const problems: string[] = [];
    if (mismatched.length) problems.push(`shape mismatch for ${mismatched.join('; ')}`);
    if (strict && missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (problems.length) {
      const hint = mismatched.length ? '' : ' (pass { strict: false } to load the keys that match)';
      throw new Error(`sleeve: ${this.constructor.name}.loadStateDict: ${problems.join('; ')}${hint}`);
    }
    const e = getEngine();
    for (const [k, t] of given) {
      const mine = own[k];
      if (mine && mine.size && t.buffer !== mine.buffer) e.copy(t.buffer, 0, mine.buffer, 0, mine.size * 4);
    }
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing -----------------------------------------------------------------

  /** Constructor arguments worth printing, e.g. 'in=3, out=5'. */
  protected extraRepr(): string {
    return '';
  }

  /** A tree like torch's repr(module). */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!this._modules.size) return head + ')';
    const lines = [...this._modules].map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}
