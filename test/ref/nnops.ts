// f64 references for the neural-net ops: batch norm (forward, running
// statistics, first gradient), max pooling, the dropout mask, softmax and
// cross-entropy. Plain loops, written for clarity, not speed.

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

// ---- batch norm ---------------------------------------------------------------

export interface BnShape {
  n: number;
  c: number;
  plane: number;
}

export const bnShape = (shape: number[]): BnShape => ({ n: shape[0], c: shape[1], plane: prod(shape.slice(2)) });

const at = (s: BnShape, n: number, c: number, k: number): number => (n * s.c + c) * s.plane + k;

/** Per-channel mean and biased variance. */
export function channelStats(x: ArrayLike<number>, s: BnShape): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(s.c), variance = new Float64Array(s.c);
  const m = s.n * s.plane;
  for (let c = 0; c < s.c; c++) {
    let acc = 0;
    for (let n = 0; n < s.n; n++) for (let k = 0; k < s.plane; k++) acc += x[at(s, n, c, k)];
    mean[c] = acc / m;
    let v = 0;
    for (let n = 0; n < s.n; n++) for (let k = 0; k < s.plane; k++) v += (x[at(s, n, c, k)] - mean[c]) ** 2;
    variance[c] = v / m;
  }
  return { mean, variance };
}

export interface BnArgs {
  weight?: ArrayLike<number> | null;
  bias?: ArrayLike<number> | null;
  /** eval mode when given; training otherwise */
  running?: { mean: ArrayLike<number>; variance: ArrayLike<number> } | null;
  eps?: number;
}

export function batchNorm(x: ArrayLike<number>, s: BnShape, a: BnArgs): Float64Array {
  const eps = a.eps ?? 1e-5;
  const { mean, variance } = a.running ?? channelStats(x, s);
  const y = new Float64Array(x.length);
  for (let c = 0; c < s.c; c++) {
    const inv = 1 / Math.sqrt(variance[c] + eps);
    const w = a.weight ? a.weight[c] : 1, b = a.bias ? a.bias[c] : 0;
    for (let n = 0; n < s.n; n++) for (let k = 0; k < s.plane; k++) {
      const i = at(s, n, c, k);
      y[i] = (x[i] - mean[c]) * inv * w + b;
    }
  }
  return y;
}

/** torch's running-stat update: momentum blend with the unbiased batch variance. */
export function updateRunning(x: ArrayLike<number>, s: BnShape, rm: Float64Array, rv: Float64Array, momentum: number): void {
  const { mean, variance } = channelStats(x, s);
  const m = s.n * s.plane;
  for (let c = 0; c < s.c; c++) {
    rm[c] = (1 - momentum) * rm[c] + momentum * mean[c];
    rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * (m / (m - 1));
  }
}

/** Analytic first gradient of Σ g·batchNorm(x) with respect to x, weight and bias. */
export function batchNormGrad(x: ArrayLike<number>, s: BnShape, g: ArrayLike<number>, a: BnArgs): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const eps = a.eps ?? 1e-5;
  const training = !a.running;
  const { mean, variance } = a.running ?? channelStats(x, s);
  const m = s.n * s.plane;
  const dx = new Float64Array(x.length), dw = new Float64Array(s.c), db = new Float64Array(s.c);
  for (let c = 0; c < s.c; c++) {
    const inv = 1 / Math.sqrt(variance[c] + eps);
    const w = a.weight ? a.weight[c] : 1;
    let sg = 0, sgx = 0;
    for (let n = 0; n < s.n; n++) for (let k = 0; k < s.plane; k++) {
      const i = at(s, n, c, k);
      sg += g[i];
      sgx += g[i] * (x[i] - mean[c]) * inv;
    }
    db[c] = sg;
    dw[c] = sgx;
    for (let n = 0; n < s.n; n++) for (let k = 0; k < s.plane; k++) {
      const i = at(s, n, c, k);
      const xh = (x[i] - mean[c]) * inv;
      dx[i] = training ? w * inv * (g[i] - sg / m - xh * sgx / m) : w * inv * g[i];
    }
  }
  return { dx, dw, db };
}

// ---- max pooling ----------------------------------------------------------------

export interface PoolArgs {
  k: [number, number];
  s: [number, number];
  p: [number, number];
}

export function poolOut(shape: number[], a: PoolArgs): number[] {
  return [shape[0], shape[1], Math.floor((shape[2] + 2 * a.p[0] - a.k[0]) / a.s[0]) + 1, Math.floor((shape[3] + 2 * a.p[1] - a.k[1]) / a.s[1]) + 1];
}

/** Max of each window and its argmax (flat index in the plane; first max wins). */
export function maxPool(x: ArrayLike<number>, shape: number[], a: PoolArgs): { out: Float64Array; idx: Float64Array; outShape: number[] } {
  const os = poolOut(shape, a);
  const [, , h, w] = shape, [, , oh, ow] = os;
  const planes = shape[0] * shape[1];
  const out = new Float64Array(planes * oh * ow), idx = new Float64Array(out.length);
  for (let pl = 0; pl < planes; pl++) {
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let best = -Infinity, arg = -1;
      for (let u = 0; u < a.k[0]; u++) for (let v = 0; v < a.k[1]; v++) {
        const hh = i * a.s[0] - a.p[0] + u, ww = j * a.s[1] - a.p[1] + v;
        if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
        const val = x[pl * h * w + hh * w + ww];
        if (val > best) { best = val; arg = hh * w + ww; }
      }
      const o = (pl * oh + i) * ow + j;
      out[o] = best;
      idx[o] = arg;
    }
  }
  return { out, idx, outShape: os };
}

/** Scatter-add of g to the argmax positions (the adjoint of gathering at idx). */
export function maxPoolBackward(g: ArrayLike<number>, idx: ArrayLike<number>, inShape: number[], outShape: number[]): Float64Array {
  const inPlane = inShape[2] * inShape[3], outPlane = outShape[2] * outShape[3];
  const dx = new Float64Array(prod(inShape));
  for (let o = 0; o < g.length; o++) dx[Math.floor(o / outPlane) * inPlane + idx[o]] += g[o];
  return dx;
}

export function gatherAt(src: ArrayLike<number>, idx: ArrayLike<number>, inShape: number[], outShape: number[]): Float64Array {
  const inPlane = inShape[2] * inShape[3], outPlane = outShape[2] * outShape[3];
  return Float64Array.from({ length: idx.length }, (_, o) => src[Math.floor(o / outPlane) * inPlane + idx[o]]);
}

// ---- dropout mask (a port of kernels/dropout.wgsl's hash) ------------------------

function pcg(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** keep[i] as the shader decides it for this seed and drop probability. */
export function dropoutKeep(seed: number, n: number, p: number): Uint8Array {
  const keep = Math.fround(1 - p);
  const ks = pcg((seed ^ 0x85ebca6b) >>> 0);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const h = pcg((pcg(i) ^ ks) >>> 0);
    out[i] = ((h >>> 8) + 0.5) / 16777216 < keep ? 1 : 0;
  }
  return out;
}

// ---- softmax and cross-entropy ----------------------------------------------------

/** log-softmax along the last axis of rows of length c. */
export function logSoftmax(x: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / c; r++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[r * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[r * c + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < c; j++) out[r * c + j] = x[r * c + j] - lse;
  }
  return out;
}

/** Move axis to the end, apply f to rows, move it back. */
export function alongAxis(x: ArrayLike<number>, shape: number[], axis: number, f: (rows: Float64Array, c: number) => Float64Array): Float64Array {
  const c = shape[axis], inner = prod(shape.slice(axis + 1)), outer = prod(shape.slice(0, axis));
  const rows = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) for (let j = 0; j < c; j++) rows[(o * inner + i) * c + j] = x[(o * c + j) * inner + i];
  const r = f(rows, c);
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) for (let j = 0; j < c; j++) out[(o * c + j) * inner + i] = r[(o * inner + i) * c + j];
  return out;
}

export function target(labels: ArrayLike<number>, c: number, eps: number): Float64Array {
  const t = new Float64Array(labels.length * c).fill(eps / c);
  for (let r = 0; r < labels.length; r++) t[r * c + labels[r]] += 1 - eps;
  return t;
}

export type Reduction = 'mean' | 'sum' | 'none';

export function crossEntropy(logits: ArrayLike<number>, c: number, labels: ArrayLike<number>, reduction: Reduction, eps = 0): Float64Array {
  const lp = logSoftmax(logits, c), t = target(labels, c, eps);
  const n = labels.length;
  const rows = new Float64Array(n);
  for (let r = 0; r < n; r++) for (let j = 0; j < c; j++) rows[r] -= t[r * c + j] * lp[r * c + j];
  if (reduction === 'none') return rows;
  const total = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'sum' ? total : total / n);
}

/** d/dlogits of Σ g·loss: g_row·(softmax − target) (g per row; scaled for the reduction). */
export function crossEntropyGrad(logits: ArrayLike<number>, c: number, labels: ArrayLike<number>, g: ArrayLike<number>, reduction: Reduction, eps = 0): Float64Array {
  const lp = logSoftmax(logits, c), t = target(labels, c, eps);
  const n = labels.length;
  const out = new Float64Array(lp.length);
  for (let r = 0; r < n; r++) {
    const gr = reduction === 'none' ? g[r] : reduction === 'sum' ? g[0] : g[0] / n;
    for (let j = 0; j < c; j++) out[r * c + j] = gr * (Math.exp(lp[r * c + j]) - t[r * c + j]);
  }
  return out;
}
