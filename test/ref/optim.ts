// f64 references of torch.optim's update formulas (single-tensor, non-amsgrad).

export interface AdamRefState {
  m: Float64Array;
  v: Float64Array;
  t: number;
}

export function adamRefState(n: number): AdamRefState {
  return { m: new Float64Array(n), v: new Float64Array(n), t: 0 };
}

/** One torch.optim.Adam (decoupled: AdamW) step on p in place. */
export function adamRef(
  p: Float64Array, g: ArrayLike<number>, s: AdamRefState,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled?: boolean },
): void {
  s.t++;
  const bc1 = 1 - o.beta1 ** s.t, bc2 = 1 - o.beta2 ** s.t;
  for (let i = 0; i < p.length; i++) {
    let gi = g[i];
    if (o.decoupled) p[i] *= 1 - o.lr * o.weightDecay;
    else gi += o.weightDecay * p[i];
    s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * gi;
    s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * gi * gi;
    const denom = Math.sqrt(s.v[i]) / Math.sqrt(bc2) + o.eps;
    p[i] -= (o.lr / bc1) * (s.m[i] / denom);
  }
}

/** One torch.optim.SGD step on p in place; buf is null before the first step. */
export function sgdRef(
  p: Float64Array, g: ArrayLike<number>, buf: Float64Array | null,
  o: { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean },
): Float64Array | null {
  let b = buf;
  const d = Float64Array.from(g, (gi, i) => gi + o.weightDecay * p[i]);
  if (o.momentum !== 0) {
    if (!b) b = Float64Array.from(d);
    else for (let i = 0; i < p.length; i++) b[i] = o.momentum * b[i] + (1 - o.dampening) * d[i];
    for (let i = 0; i < p.length; i++) d[i] = o.nesterov ? d[i] + o.momentum * b[i] : b[i];
  }
  for (let i = 0; i < p.length; i++) p[i] -= o.lr * d[i];
  return b;
}
