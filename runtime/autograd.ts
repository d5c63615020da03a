// The tape. Each op that sees an input requiring grad attaches a TapeNode to
// its output; grad() walks a topological order of those nodes once
// (micrograd's way). Backward rules are written in the runtime's own ops, so
// with createGraph the returned gradients are themselves on the tape and can be
// differentiated again (the WGAN-GP penalty needs exactly that).
import { Tensor, keep, tidy, type TapeNode } from './tensor.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording anything on the tape (torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/** Attach a backward rule to out when any input requires grad. Returns out. */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: TapeNode['backward'], saved?: Tensor[]): Tensor {
  if (needsGrad(inputs)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward, saved };
  } else if (saved) {
    // nothing will run backward: free what only a backward pass would read
    for (const t of saved) t.dispose();
  }
  return out;
}

/** A tensor with the same values and no history. */
export function detach(t: Tensor): Tensor {
  // Shares the buffer (no copy). Ops never write their inputs, but optimiser
  // steps update parameters in place, and a detached view shows that, as in torch.
  const d = new Tensor(t.shape, t.storage.retain());
  return d;
}

function topoOrder(roots: Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep nets would overflow a recursive one.
  const stack: [Tensor, number][] = [];
  for (const r of roots) {
    if (visited.has(r)) continue;
    visited.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [t, i] = top;
      if (t.historyFreed) {
        throw new Error(`sleeve: the history of ${t.describe()} was freed when the tidy() that made it returned; call grad()/backward() inside that tidy()`);
      }
      const inputs = t.node?.inputs ?? [];
      if (i < inputs.length) {
        top[1]++;
        const child = inputs[i];
        if (child.requiresGrad && !visited.has(child)) {
          visited.add(child);
          stack.push([child, 0]);
        }
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order; // inputs before the outputs that use them
}

export interface GradOptions {
  /** Seeds for each output's gradient; default ones (outputs must then be scalars). */
  gradOutputs?: (Tensor | null)[];
  /** Keep the backward pass on the tape so its results can be differentiated. */
  createGraph?: boolean;
  /** Return null (instead of throwing) for inputs the outputs do not depend on. */
  allowUnused?: boolean;
}

type Add = (a: Tensor, b: Tensor) => Tensor;
type Ones = (shape: number[]) => Tensor;
let addOp: Add | null = null;
let onesOp: Ones | null = null;

/** The elementwise module registers add/ones here (keeps imports pointing down). */
export function bindAutogradOps(add: Add, ones: Ones): void {
  addOp = add;
  onesOp = ones;
}

function run(outputs: Tensor[], opts: GradOptions, wanted: Set<Tensor> | null): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>();
  outputs.forEach((o, i) => {
    const seed = opts.gradOutputs?.[i];
    if (seed) {
      if (seed.rank !== o.rank || seed.shape.some((d, k) => d !== o.shape[k])) {
        throw new Error(`sleeve: grad output ${seed.describe()} does not match output ${o.describe()}`);
      }
      grads.set(o, seed);
    } else {
      if (o.size !== 1) throw new Error(`sleeve: grad of non-scalar output ${o.describe()} needs gradOutputs`);
      grads.set(o, onesOp!(o.shape));
    }
  });
  const order = topoOrder(outputs.filter((o) => o.requiresGrad));
  // Only walk what leads to a wanted input: grad of D(x) w.r.t. x must not
  // also compute every weight's gradient.
  let relevant: Set<Tensor> | null = null;
  if (wanted) {
    relevant = new Set();
    for (const t of order) {
      if (wanted.has(t) || t.node?.inputs.some((i) => relevant!.has(i))) relevant.add(t);
    }
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g || !t.node) continue;
    if (relevant && !relevant.has(t)) continue;
    const needs = t.node.inputs.map((i) => i.requiresGrad && (!relevant || relevant.has(i)));
    if (!needs.some(Boolean)) continue;
    const gis = t.node.backward(g, needs);
    t.node.inputs.forEach((inp, j) => {
      const gi = gis[j];
      if (!gi || !inp.requiresGrad) return;
      if (relevant && !relevant.has(inp)) return;
      if (gi.size !== inp.size) throw new Error(`sleeve: backward of ${t.node!.op} gave ${gi.describe()} for input ${inp.describe()}`);
      const prev = grads.get(inp);
      grads.set(inp, prev ? addOp!(prev, gi) : gi);
    });
  }
  return grads;
}

/**
 * Gradients of outputs with respect to inputs (torch.autograd.grad).
 * With createGraph the results are differentiable tensors on the tape.
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  for (const x of inputs) {
    if (!x.requiresGrad) throw new Error(`sleeve: grad() input ${x.describe()} does not require grad`);
  }
  const body = (): (Tensor | null)[] => {
    const grads = run(outs, opts, new Set(inputs));
    return inputs.map((x) => {
      const g = grads.get(x);
      if (!g) {
        if (opts.allowUnused) return null;
        throw new Error(`sleeve: grad() input ${x.describe()} is not used by the outputs (pass allowUnused)`);
      }
      return g;
    });
  };
  if (opts.createGraph) {
    const prev = gradEnabled;
    gradEnabled = true;
    try {
      return body();
    } finally {
      gradEnabled = prev;
    }
  }
  // Not keeping the graph: no recording, and every intermediate freed.
  return tidy(() => noGrad(body));
}

/**
 * Accumulate d(output)/d(leaf) into leaf.grad for every leaf that requires
 * grad (loss.backward()).
 */
export function backward(output: Tensor, gradOutput?: Tensor): void {
  const leaves: Tensor[] = [];
  for (const t of topoOrder([output])) if (t.requiresGrad && !t.node) leaves.push(t);
  if (!output.requiresGrad) throw new Error(`sleeve: backward() on ${output.describe()}, which does not require grad`);
  const results = tidy(() =>
    noGrad(() => {
      const grads = run([output], { gradOutputs: gradOutput ? [gradOutput] : undefined }, null);
      return leaves.map((l) => {
        const g = grads.get(l);
        if (!g) return null;
        return l.grad ? addOp!(l.grad, g) : g;
      });
    }),
  );
  const given = new Set<Tensor>();
  leaves.forEach((l, i) => {
    const g = results[i];
    if (!g) return;
    const old = l.grad;
    // A rule may hand one tensor to several inputs (add passes g through):
    // each leaf gets its own handle so disposing one grad leaves the others.
    const own = g === gradOutput || given.has(g) ? detach(g) : g;
    given.add(g);
    l.grad = keep(own);
    if (old && old !== l.grad) old.dispose();
  });
}
