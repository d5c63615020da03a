// The shared part of the optimisers: the parameter list, per-parameter state
// tensors and step counts, zeroGrad, and a checkpointable state dict.
//
// Parameters are updated in place: each step writes into the parameter's own
// buffer, so the Tensor objects a Module holds stay the same objects.
import { getEngine } from '../engine.js';
import { keep, sameShape, Tensor } from '../tensor.js';
import { zeros } from '../ops/elementwise.js';

export type Hyper = Record<string, number | boolean | number[]>;

/** Everything needed to resume: tensors by '<param index>.<name>' and a JSON-able rest.
 * Tensors are the optimiser's own (not copies): save them, do not dispose them. */
export interface OptimizerStateDict {
  tensors: Record<string, Tensor>;
  meta: { type: string; steps: number[]; hyper: Hyper };
}

export abstract class Optimizer {
  readonly params: Tensor[];
  /** Steps taken per parameter (a parameter with no gradient is not stepped). */
  protected steps: number[];
  /** Per-parameter state tensors (e.g. Adam's exp_avg), created on first use. */
  protected state: Map<string, Tensor>[];

  constructor(params: Iterable<Tensor>, readonly type: string) {
    const list: Tensor[] = [];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new Error(`sleeve: optim.${type}: parameters must be Tensors`);
      if (p.node) throw new Error(`sleeve: optim.${type}: parameter ${p.describe()} is not a leaf (it has recorded history)`);
      if (!list.includes(p)) list.push(p);
    }
    if (!list.length) throw new Error(`sleeve: optim.${type}: got an empty parameter list`);
    this.params = list;
    this.steps = list.map(() => 0);
    this.state = list.map(() => new Map());
  }

  /** Apply one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Hyperparameters for the state dict (JSON-able). */
  protected abstract hyper(): Hyper;
  protected abstract setHyper(h: Hyper): void;

  /** Dispose every parameter's gradient (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The gradient of parameter i, checked, or null to skip it. */
  protected gradOf(i: number): Tensor | null {
    const p = this.params[i];
    const g = p.grad;
    if (!g) return null;
    if (g.size !== p.size) throw new Error(`sleeve: optim.${this.type}: gradient ${g.describe()} does not match parameter ${p.describe()}`);
    if (p.disposed) throw new Error(`sleeve: optim.${this.type}: parameter ${p.describe()} was disposed`);
    return g;
  }

  /** State tensor `name` of parameter i, zero-filled on first use and kept past tidy(). */
  protected stateTensor(i: number, name: string): Tensor {
    let t = this.state[i].get(name);
    if (!t) {
      t = keep(zeros(this.params[i].shape));
      t.name = `${this.type}.${name}`;
      this.state[i].set(name, t);
    }
    return t;
  }

  stateDict(): OptimizerStateDict {
    const tensors: Record<string, Tensor> = {};
    this.state.forEach((m, i) => {
      for (const [n, t] of m) tensors[`${i}.${n}`] = t;
    });
    return { tensors, meta: { type: this.type, steps: [...this.steps], hyper: this.hyper() } };
  }

  /** Resume from stateDict() output (e.g. after a safetensors round trip).
   * Values are copied; the caller still owns the given tensors. */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `sleeve: optim.${this.type}.loadStateDict`;
    if (sd.meta.type !== this.type) throw new Error(`${where}: state is for ${sd.meta.type}`);
    if (sd.meta.steps.length !== this.params.length) {
      throw new Error(`${where}: state has ${sd.meta.steps.length} parameters, this optimiser has ${this.params.length}`);
    }
    const parsed: [number, string, Tensor][] = [];
    for (const [k, t] of Object.entries(sd.tensors)) {
      const m = /^(\d+)\.(\w+)$/.exec(k);
      const i = m ? Number(m[1]) : -1;
      if (!m || i >= this.params.length) throw new Error(`${where}: unexpected key ${k}`);
      const p = this.params[i];
      if (!sameShape(t.shape, p.shape)) throw new Error(`${where}: ${k} is [${t.shape.join(', ')}], parameter ${i} is [${p.shape.join(', ')}]`);
      parsed.push([i, m[2], t]);
    }
    for (const m of this.state) for (const t of m.values()) t.dispose();
    this.state = this.params.map(() => new Map());
    const e = getEngine();
    for (const [i, name, t] of parsed) {
      const mine = this.stateTensor(i, name);
      if (mine.size) e.copy(t.buffer, 0, mine.buffer, 0, mine.size * 4);
    }
    this.steps = [...sd.meta.steps];
    this.setHyper(sd.meta.hyper);
  }

  /** Free the state tensors (the parameters stay). */
  dispose(): void {
    for (const m of this.state) for (const t of m.values()) t.dispose();
    this.state = this.params.map(() => new Map());
  }
}

export function checkRange(type: string, name: string, v: number, lo: number, hi = Infinity, hiOpen = false): void {
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    throw new Error(`sleeve: optim.${type}: invalid ${name} ${v} (must be in [${lo}, ${hi}${hiOpen ? ')' : ']'})`);
  }
}
