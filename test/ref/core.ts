// f64 references for the core ops: broadcasting elementwise, reductions,
// layout copies and matmul. Plain loops, written for clarity, not speed.

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    return da === 1 ? db : da;
  });
}

function unravel(i: number, shape: number[]): number[] {
  const c = new Array(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

function bIndex(coord: number[], shape: number[]): number {
  const off = coord.length - shape.length;
  const st = strides(shape);
  let idx = 0;
  for (let d = 0; d < shape.length; d++) idx += (shape[d] === 1 ? 0 : coord[d + off]) * st[d];
  return idx;
}

export function binary(f: (x: number, y: number) => number, a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[]): Float64Array {
  const os = broadcastShape(as, bs);
  const out = new Float64Array(prod(os));
  for (let i = 0; i < out.length; i++) {
    const c = unravel(i, os);
    out[i] = f(a[bIndex(c, as)], b[bIndex(c, bs)]);
  }
  return out;
}

export function reduce(x: ArrayLike<number>, shape: number[], axes: number[], op: 'sum' | 'max'): Float64Array {
  const os = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(prod(os)).fill(op === 'sum' ? 0 : -Infinity);
  const ost = strides(os);
  for (let i = 0; i < x.length; i++) {
    const c = unravel(i, shape);
    let o = 0;
    for (let d = 0; d < shape.length; d++) if (!axes.includes(d)) o += c[d] * ost[d];
    out[o] = op === 'sum' ? out[o] + x[i] : Math.max(out[o], x[i]);
  }
  return out;
}

export function permute(x: ArrayLike<number>, shape: number[], dims: number[]): Float64Array {
  const os = dims.map((d) => shape[d]);
  const st = strides(shape);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const c = unravel(i, os);
    let src = 0;
    dims.forEach((d, k) => (src += c[k] * st[d]));
    out[i] = x[src];
  }
  return out;
}

export function pad(x: ArrayLike<number>, shape: number[], pads: [number, number][], value = 0): Float64Array {
  const os = shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const st = strides(shape);
  const out = new Float64Array(prod(os));
  for (let i = 0; i < out.length; i++) {
    const c = unravel(i, os);
    let src = 0, inside = true;
    c.forEach((v, d) => {
      const s = v - pads[d][0];
      if (s < 0 || s >= shape[d]) inside = false;
      src += s * st[d];
    });
    out[i] = inside ? x[src] : value;
  }
  return out;
}

export function slice(x: ArrayLike<number>, shape: number[], start: number[], size: number[]): Float64Array {
  const st = strides(shape);
  const out = new Float64Array(prod(size));
  for (let i = 0; i < out.length; i++) {
    const c = unravel(i, size);
    let src = 0;
    c.forEach((v, d) => (src += (v + start[d]) * st[d]));
    out[i] = x[src];
  }
  return out;
}

/** Batched a·b with optional transposes; a: [B?, M, K] (or [K, M] transposed). */
export function matmul(a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[], ta = false, tb = false): Float64Array {
  const M = ta ? as[as.length - 1] : as[as.length - 2];
  const K = ta ? as[as.length - 2] : as[as.length - 1];
  const N = tb ? bs[bs.length - 2] : bs[bs.length - 1];
  const ba = prod(as.slice(0, -2)), bb = prod(bs.slice(0, -2));
  const B = Math.max(ba, bb);
  const out = new Float64Array(B * M * N);
  const ar = as[as.length - 1], br = bs[bs.length - 1];
  for (let z = 0; z < B; z++) {
    const ao = ba === 1 ? 0 : z * M * K, bo = bb === 1 ? 0 : z * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = ta ? a[ao + k * ar + i] : a[ao + i * ar + k];
          const bv = tb ? b[bo + j * br + k] : b[bo + k * br + j];
          s += av * bv;
        }
        out[z * M * N + i * N + j] = s;
      }
  }
  return out;
}
