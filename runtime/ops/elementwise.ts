// Elementwise arithmetic with broadcasting, and the unary functions.
// Backward rules use these same ops, so they can be differentiated again.
import { record, bindAutogradOps } from '../autograd.js';
import { getEngine, gridStride, MAX_ROW_2D, gridStride2d } from '../engine.js';
import { GRID_VARIANTS, registerProbe, setGridVariant, type GridVariant } from '../tune.js';
import { K } from '../kernels.js';
import { empty, sameShape, type Tensor } from '../tensor.js';
import { broadcastShapes, broadcastStrides, checkRank, pad8 } from './util.js';
import { sumTo } from './reduce.js';
import { rowRanges, rowsOf, type RowRange } from './split.js';

const BIN = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, greater: 7, equal: 8, greaterEqual: 9 } as const;
type BinOp = keyof typeof BIN;

function binaryRaw(op: BinOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  checkRank(shape, op);
  const out = empty(shape);
  const n = out.size;
  if (n === 0) return out;
  const e = getEngine();
  const what = () => `${a.describe()} ${op} ${b.describe()}`;
  if (sameShape(a.shape, shape) && sameShape(b.shape, shape)) {
    const v4 = n % 4 === 0; // so is every range: vec4 loads and stores
    for (const r of rowRanges(n, [1], op, what)) {
      const ar = rowsOf(a, r, 1), br = rowsOf(b, r, 1), outr = rowsOf(out, r, 1);
      e.dispatch(K.binary, {
        entry: v4 ? 'same4' : 'same', constants: { OP: BIN[op] },
        buffers: v4 ? { a4: ar, b4: br, out4: outr } : { a: ar, b: br, out: outr },
        uniforms: { n: r.count, rank: 0, out_shape: [], a_strides: [], b_strides: [] },
        workgroups: gridStride(v4 ? r.count / 4 : r.count),
      });
    }
    return out;
  }
  // Broadcast: split along the output's first axis. An operand that spans it
  // is bound a range of rows; one broadcast along it is bound whole.
  const aStrides = broadcastStrides(a.shape, shape), bStrides = broadcastStrides(b.shape, shape);
  const outRow = n / shape[0];
  const ranges = rowRanges(shape[0], [outRow, aStrides[0], bStrides[0]], op, what);
  const whole = ranges.length === 1;
  const bind = (t: Tensor, rowFloats: number, r: RowRange) => (whole || !rowFloats ? t.buffer : rowsOf(t, r, rowFloats));
  // Rank 2 with rows at least as long as a workgroup (and within the grid's
  // x limit): a 2-D grid, no index division.
  const twoD = shape.length === 2 && shape[1] >= 64 && shape[1] <= MAX_ROW_2D;
  for (const r of ranges) {
    e.dispatch(K.binary, {
      entry: twoD ? 'rows' : 'main',
      constants: { OP: BIN[op] },
      buffers: { a: bind(a, aStrides[0], r), b: bind(b, bStrides[0], r), out: bind(out, outRow, r) },
      uniforms: {
        n: r.count * outRow, rank: shape.length, out_shape: pad8([r.count, ...shape.slice(1)]),
        a_strides: pad8(aStrides), b_strides: pad8(bStrides),
      },
      workgroups: twoD ? gridStride2d(r.count, outRow) : gridStride(r.count * outRow),
    });
  }
  return out;
}

const UN = {
  neg: 0, exp: 1, log: 2, sqrt: 3, tanh: 4, sigmoid: 5, relu: 6, leakyRelu: 7, abs: 8, sign: 9, square: 10,
  reciprocal: 11, leakySlope: 12, step: 13, affine: 14, powScalar: 15, sin: 16, cos: 17, rsqrt: 18,
  floor: 20, round: 21,
} as const;
type UnOp = keyof typeof UN;

export function unaryRaw(op: UnOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  const out = empty(x.shape);
  if (x.size === 0) return out;
  // A length of a multiple of 4 (so is every range): vec4 loads and stores.
  const v4 = x.size % 4 === 0;
  for (const r of rowRanges(x.size, [1], op, () => x.describe())) {
    const xr = rowsOf(x, r, 1), outr = rowsOf(out, r, 1);
    getEngine().dispatch(K.unary, {
      entry: v4 ? 'main4' : 'main',
      constants: { OP: UN[op] },
      buffers: v4 ? { x4: xr, out4: outr } : { x: xr, out: outr },
      uniforms: { n: r.count, alpha, beta },
      workgroups: gridStride(v4 ? r.count / 4 : r.count),
    });
  }
  return out;
}

type Operand = Tensor | number;

// ---- binary -----------------------------------------------------------------

export function add(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number') return typeof b === 'number' ? scalarError('add') : affine(b, 1, a);
  if (typeof b === 'number') return affine(a, 1, b);
  const out = binaryRaw('add', a, b);
  return record(out, 'add', [a, b], (g, needs) => [needs[0] ? sumTo(g, a.shape) : null, needs[1] ? sumTo(g, b.shape) : null]);
}

export function sub(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number') return typeof b === 'number' ? scalarError('sub') : affine(b, -1, a);
  if (typeof b === 'number') return affine(a, 1, -b);
  const out = binaryRaw('sub', a, b);
  return record(out, 'sub', [a, b], (g, needs) => [needs[0] ? sumTo(g, a.shape) : null, needs[1] ? sumTo(neg(g), b.shape) : null]);
}

export function mul(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number') return typeof b === 'number' ? scalarError('mul') : affine(b, a, 0);
  if (typeof b === 'number') return affine(a, b, 0);
  const out = binaryRaw('mul', a, b);
  return record(out, 'mul', [a, b], (g, needs) => [
    needs[0] ? sumTo(mul(g, b), a.shape) : null,
    needs[1] ? sumTo(mul(g, a), b.shape) : null,
  ]);
}

export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') return scalarError('div');
    return affine(a, 1 / b, 0);
  }
  if (typeof a === 'number') return mul(reciprocal(b), a);
  const out = binaryRaw('div', a, b);
  return record(out, 'div', [a, b], (g, needs) => [
    needs[0] ? sumTo(div(g, b), a.shape) : null,
    // d(a/b)/db = -a/b² = -out/b
    needs[1] ? sumTo(neg(div(mul(g, div(a, b)), b)), b.shape) : null,
  ]);
}

export function pow(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return powScalar(a, b);
  const out = binaryRaw('pow', a, b);
  return record(out, 'pow', [a, b], (g, needs) => [
    needs[0] ? sumTo(mul(g, mul(b, pow(a, sub(b, 1)))), a.shape) : null,
    // d/db a^b = a^b·ln a; at a = 0 take ln 1 instead (the product's limit is 0, as torch)
    needs[1] ? sumTo(mul(g, mul(pow(a, b), log(add(a, binaryRaw('equal', a, zerosLike(a)))))), b.shape) : null,
  ]);
}

export function maximum(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw('maximum', a, b);
  return record(out, 'maximum', [a, b], (g, needs) => {
    const m = tieSplit(a, b); // 1 where a wins, ½ on ties (as torch)
    return [needs[0] ? sumTo(mul(g, m), a.shape) : null, needs[1] ? sumTo(mul(g, sub(1, m)), b.shape) : null];
  });
}

export function minimum(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw('minimum', a, b);
  return record(out, 'minimum', [a, b], (g, needs) => {
    const m = tieSplit(b, a);
    return [needs[0] ? sumTo(mul(g, m), a.shape) : null, needs[1] ? sumTo(mul(g, sub(1, m)), b.shape) : null];
  });
}

/** 1 where a > b, ½ where a == b, 0 elsewhere (no gradient). */
function tieSplit(a: Tensor, b: Tensor): Tensor {
  const gt = binaryRaw('greater', a, b);
  const ge = binaryRaw('greaterEqual', a, b);
  return unaryRaw('affine', binaryRaw('add', gt, ge), 0.5, 0);
}

/** 1 where a > b else 0 (no gradient). */
export function greater(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('greater', a, b);
}
/** 1 where a == b else 0 (no gradient). */
export function equal(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('equal', a, b);
}

function scalarError(op: string): never {
  throw new Error(`sleeve: ${op}: at least one operand must be a tensor`);
}

// ---- unary ------------------------------------------------------------------

/** alpha·x + beta */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  const out = unaryRaw('affine', x, alpha, beta);
  return record(out, 'affine', [x], (g) => [affine(g, alpha, 0)]);
}

export function neg(x: Tensor): Tensor {
  return affine(x, -1, 0);
}

export function exp(x: Tensor): Tensor {
  const out = unaryRaw('exp', x);
  return record(out, 'exp', [x], (g) => [mul(g, out)]);
}

export function log(x: Tensor): Tensor {
  const out = unaryRaw('log', x);
  return record(out, 'log', [x], (g) => [div(g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const out = unaryRaw('sqrt', x);
  return record(out, 'sqrt', [x], (g) => [div(mul(g, 0.5), out)]);
}

export function rsqrt(x: Tensor): Tensor {
  const out = unaryRaw('rsqrt', x);
  // d x^-1/2 = -1/2 x^-3/2 = -0.5 * out³
  return record(out, 'rsqrt', [x], (g) => [mul(g, mul(powScalar(out, 3), -0.5))]);
}

export function reciprocal(x: Tensor): Tensor {
  const out = unaryRaw('reciprocal', x);
  return record(out, 'reciprocal', [x], (g) => [neg(mul(g, square(out)))]);
}

export function square(x: Tensor): Tensor {
  const out = unaryRaw('square', x);
  return record(out, 'square', [x], (g) => [mul(g, mul(x, 2))]);
}

export function powScalar(x: Tensor, e: number): Tensor {
  if (e === 1) return affine(x, 1, 0);
  if (e === 2) return square(x);
  const out = unaryRaw('powScalar', x, e);
  return record(out, 'pow', [x], (g) => [mul(g, mul(powScalar(x, e - 1), e))]);
}

export function tanh(x: Tensor): Tensor {
  const out = unaryRaw('tanh', x);
  return record(out, 'tanh', [x], (g) => [mul(g, sub(1, square(out)))]);
}

export function sigmoid(x: Tensor): Tensor {
  const out = unaryRaw('sigmoid', x);
  return record(out, 'sigmoid', [x], (g) => [mul(g, mul(out, sub(1, out)))]);
}

export function relu(x: Tensor): Tensor {
  const out = unaryRaw('relu', x);
  // The mask has zero derivative almost everywhere: grad-of-grad is mask·g.
  return record(out, 'relu', [x], (g) => [mul(g, unaryRaw('step', x))]);
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  const out = unaryRaw('leakyRelu', x, negativeSlope);
  return record(out, 'leakyRelu', [x], (g) => [mul(g, unaryRaw('leakySlope', x, negativeSlope))]);
}

export function abs(x: Tensor): Tensor {
  const out = unaryRaw('abs', x);
  return record(out, 'abs', [x], (g) => [mul(g, unaryRaw('sign', x))]);
}

export function sin(x: Tensor): Tensor {
  const out = unaryRaw('sin', x);
  return record(out, 'sin', [x], (g) => [mul(g, cos(x))]);
}

export function cos(x: Tensor): Tensor {
  const out = unaryRaw('cos', x);
  return record(out, 'cos', [x], (g) => [neg(mul(g, sin(x)))]);
}

/** sign(x) (no gradient) */
export function sign(x: Tensor): Tensor {
  return unaryRaw('sign', x);
}

// ---- creation ---------------------------------------------------------------

export function full(shape: readonly number[], value: number): Tensor {
  const out = empty(shape);
  if (out.size === 0) return out;
  for (const r of rowRanges(out.size, [1], 'full', () => out.describe())) {
    getEngine().dispatch(K.fill, {
      constants: { DIST: 3 },
      buffers: { out: rowsOf(out, r, 1) },
      uniforms: { n: r.count, seed: 0, lo: value, hi: 0, base: 0 },
      workgroups: gridStride(r.count),
    });
  }
  return out;
}

export function zeros(shape: readonly number[]): Tensor {
  return full(shape, 0);
}

export function ones(shape: readonly number[]): Tensor {
  return full(shape, 1);
}

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0);
}

export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1);
}

bindAutogradOps(add, (shape) => ones(shape));

// The tuner's probe for how elementwise work is spread (engine.ts gridStride):
// an affine map over 2^20 floats. On lavapipe one item per lane spends most
// of its time starting workgroups.
registerProbe('grid', {
  variants: GRID_VARIANTS,
  run: () => {
    const x = full([1 << 20], 1);
    unaryRaw('affine', x, 2, 1).dispose();
    x.dispose();
  },
  select: (v) => setGridVariant(v as GridVariant),
});
