// 2-D max pooling (torch.nn.functional.max_pool2d, NCHW, floor mode).
// The forward keeps the argmax of every window; the backward is a gather
// over those indices (no atomics), and the gather's own adjoint is reading
// the gradient at the indices. Both are recorded ops, each the other's
// gradient, so pooling is closed under differentiation.
import { needsGrad, record } from '../autograd.js';
import { getEngine, grid1d, gridStride, strideGroups } from '../engine.js';
import { K } from '../kernels.js';
import { empty, view, type Tensor } from '../tensor.js';
import { zeros } from './elementwise.js';
import { rowRanges, rowsOf } from './split.js';

type Pair = number | [number, number];

export interface MaxPoolOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
}

/** Window geometry shared by the forward and both linear maps. */
export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function outSize(inSize: number, k: number, s: number, p: number): number {
  return Math.floor((inSize + 2 * p - k) / s) + 1;
}

function checkInput(x: { rank: number; shape: number[]; describe(): string }, op: string): void {
  if (x.rank !== 4) throw new Error(`sleeve: ${op}: input ${x.describe()} must be [N, C, H, W]`);
  if (x.shape[2] * x.shape[3] > 1 << 24) {
    throw new Error(`sleeve: ${op}: plane of ${x.describe()} exceeds 2^24 elements (indices are stored as f32)`);
  }
}

function uniforms(inShape: readonly number[], outShape: readonly number[], geo: PoolGeometry): Record<string, number> {
  return {
    n_out: outShape.reduce((a, b) => a * b, 1), n_in: inShape.reduce((a, b) => a * b, 1),
    in_h: inShape[2], in_w: inShape[3], out_h: outShape[2], out_w: outShape[3],
    k_h: geo.kernel[0], k_w: geo.kernel[1], s_h: geo.stride[0], s_w: geo.stride[1],
    p_h: geo.padding[0], p_w: geo.padding[1],
  };
}

type Bind = (t: Tensor) => GPUBuffer | GPUBufferBinding;

/** The 2×2, stride 2, unpadded window over an even height: the kernels'
 * `_2x2` entries, which take whole output rows (maxpool.wgsl). */
function isPlain2x2(inShape: readonly number[], geo: PoolGeometry): boolean {
  const [kh, kw] = geo.kernel, [sh, sw] = geo.stride, [ph, pw] = geo.padding;
  return kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0 && inShape[2] % 2 === 0;
}

/** Workgroups of forward_2x2 and backward_2x2, which loop over blocks of
 * ROWS_2X2 (4) rows per lane row, as many lane rows as min(units, 64)
 * columns of work (outputs) leave room for in 64 lanes: a block gives each
 * lane at least 4 units (gridStride's rule). */
function rowsGrid(rows: number, units: number): [number, number, number] {
  const perGroup = 4 * Math.floor(64 / Math.min(units, 64));
  return grid1d(strideGroups(Math.ceil(rows / perGroup), 4), 1);
}

/**
 * One dispatch per range of N·C planes (one, unless a tensor exceeds the
 * storage binding limit): every kernel entry works plane by plane. The grid
 * strides over output elements ('out'), input elements ('in'), quads of
 * four outputs in a row ('quads': forward_2x2_quads), or blocks of whole
 * output rows ('rows': the other `_2x2` entries).
 */
function byPlanes(op: string, inShape: readonly number[], outShape: readonly number[], geo: PoolGeometry, per: 'in' | 'out' | 'rows' | 'quads',
  make: (inPlanes: Bind, outPlanes: Bind) => { entry: string; constants?: Record<string, number>; buffers: Record<string, GPUBuffer | GPUBufferBinding> }): void {
  const planes = inShape[0] * inShape[1];
  const inPlane = inShape[2] * inShape[3], outPlane = outShape[2] * outShape[3];
  const ranges = rowRanges(planes, [inPlane, outPlane], op, () => `input [${inShape.join(', ')}] → [${outShape.join(', ')}]`);
  for (const r of ranges) {
    const whole = ranges.length === 1;
    const of = (floats: number): Bind => (t) => (whole ? t.buffer : rowsOf(t, r, floats));
    const shapeIn = [1, r.count, inShape[2], inShape[3]], shapeOut = [1, r.count, outShape[2], outShape[3]];
    getEngine().dispatch(K.maxpool, {
      ...make(of(inPlane), of(outPlane)),
      uniforms: uniforms(shapeIn, shapeOut, geo),
      workgroups: per === 'rows' ? rowsGrid(r.count * outShape[2], outShape[3])
        : gridStride(r.count * (per === 'in' ? inPlane : per === 'out' ? outPlane : outShape[2] * Math.ceil(outShape[3] / 4))),
    });
  }
}

/** Output shape of max pooling x with this geometry; throws on bad parameters. */
export function poolShape(inShape: readonly number[], geo: PoolGeometry, op = 'maxPool2d'): number[] {
  const [kh, kw] = geo.kernel, [sh, sw] = geo.stride, [ph, pw] = geo.padding;
  const desc = `kernel ${kh}×${kw}, stride ${sh}×${sw}, padding ${ph}×${pw}`;
  if (![kh, kw, sh, sw].every((v) => Number.isInteger(v) && v >= 1) || ![ph, pw].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`sleeve: ${op}: invalid ${desc} for input [${inShape.join(', ')}]`);
  }
  // As torch: a window must always contain at least one real element.
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`sleeve: ${op}: padding must be at most half the kernel (${desc})`);
  const oh = outSize(inShape[2], kh, sh, ph), ow = outSize(inShape[3], kw, sw, pw);
  if (oh < 1 || ow < 1) {
    throw new Error(`sleeve: ${op}: input [${inShape.join(', ')}] is too small for ${desc} (output ${oh}×${ow})`);
  }
  return [inShape[0], inShape[1], oh, ow];
}

function pooled(x: Tensor, kernelSize: Pair, opts: MaxPoolOptions, wantIndices: boolean): { out: Tensor; indices: Tensor | null } {
  checkInput(x, 'maxPool2d');
  const kernel = pair(kernelSize);
  const geo: PoolGeometry = { kernel, stride: pair(opts.stride ?? kernel), padding: pair(opts.padding ?? 0) };
  const outShape = poolShape(x.shape, geo);
  const out = empty(outShape);
  // The argmax is written only if a backward pass or the caller will read it.
  const withIndices = wantIndices || needsGrad([x]);
  const indices = withIndices ? empty(outShape) : null;
  if (out.size > 0) {
    const standIn = indices ? null : empty([1]);
    const plain = isPlain2x2(x.shape, geo);
    // an even width puts every window's top row on a vec4 boundary and its
    // bottom row on a vec2 one: four windows per lane (forward_2x2_quads)
    const quads = plain && x.shape[3] % 2 === 0;
    byPlanes('maxPool2d', x.shape, outShape, geo, quads ? 'quads' : plain ? 'rows' : 'out', (inPlanes, outPlanes) => {
      const xs = inPlanes(x);
      return {
        entry: quads ? 'forward_2x2_quads' : plain ? 'forward_2x2' : 'forward', constants: { WITH_INDICES: indices ? 1 : 0 },
        buffers: { ...(quads ? { x4: xs, x2: xs } : { x: xs }), out: outPlanes(out), idx_out: indices ? outPlanes(indices) : standIn!.buffer },
      };
    });
    standIn?.dispose();
  }
  if (indices) {
    // The node keeps its own handle on the indices, so a caller of
    // maxPool2dWithIndices may dispose theirs.
    const saved = view(indices, indices.shape);
    record(out, 'maxPool2d', [x], (g) => [maxPool2dBackward(g, saved, x.shape, geo)], [saved]);
  }
  return { out, indices };
}

/** Max over kh×kw windows of each plane of x [N, C, H, W]. */
export function maxPool2d(x: Tensor, kernelSize: Pair, opts: MaxPoolOptions = {}): Tensor {
  const { out, indices } = pooled(x, kernelSize, opts, false);
  indices?.dispose(); // the node holds its own handle when a backward pass needs them
  return out;
}

/**
 * Max pooling that also returns the argmax of each window, as flat indices
 * h·W + w into the input plane (torch's return_indices=True), stored as f32.
 */
export function maxPool2dWithIndices(x: Tensor, kernelSize: Pair, opts: MaxPoolOptions = {}): { out: Tensor; indices: Tensor } {
  const { out, indices } = pooled(x, kernelSize, opts, true);
  return { out, indices: indices! };
}

/**
 * Gradient of max pooling: dx[i] = Σ g[o] over outputs o whose argmax is i.
 * Linear in g; its gradient is maxPool2dGather. With the pooling geometry
 * each input looks only at the windows that cover it; without, it searches
 * its whole output plane (correct for any indices, slower).
 */
export function maxPool2dBackward(g: Tensor, indices: Tensor, inputShape: readonly number[], geo?: PoolGeometry): Tensor {
  if (g.rank !== 4 || indices.rank !== 4 || g.shape.some((d, i) => d !== indices.shape[i])) {
    throw new Error(`sleeve: maxPool2dBackward: gradient ${g.describe()} and indices ${indices.describe()} must be the same [N, C, H, W] shape`);
  }
  if (inputShape.length !== 4 || inputShape[0] !== g.shape[0] || inputShape[1] !== g.shape[1]) {
    throw new Error(`sleeve: maxPool2dBackward: input shape [${inputShape.join(', ')}] does not match gradient ${g.describe()}`);
  }
  if (geo) {
    const expect = poolShape(inputShape, geo, 'maxPool2dBackward');
    if (expect.some((d, i) => d !== g.shape[i])) {
      throw new Error(`sleeve: maxPool2dBackward: gradient ${g.describe()} is not the pooled shape [${expect.join(', ')}] of input [${inputShape.join(', ')}]`);
    }
  }
  // No windows at all: nothing flows back (and the kernel's loop bounds assume some).
  const dx = g.size === 0 ? zeros(inputShape) : empty(inputShape);
  if (dx.size > 0 && g.size > 0) {
    // Without the geometry an index may point anywhere in its plane: search.
    const plain = !!geo && isPlain2x2(inputShape, geo);
    byPlanes('maxPool2dBackward', inputShape, g.shape, geo ?? UNIT, plain ? 'rows' : 'in', (inPlanes, outPlanes) => ({
      entry: plain ? 'backward_2x2' : 'backward', constants: plain ? undefined : { SEARCH_ALL: geo ? 0 : 1 },
      buffers: { g: outPlanes(g), idx: outPlanes(indices), dx: inPlanes(dx) },
    }));
  }
  return record(dx, 'maxPool2dBackward', [g], (gg) => [maxPool2dGather(gg, indices, geo)]);
}

const UNIT: PoolGeometry = { kernel: [1, 1], stride: [1, 1], padding: [0, 0] };

/**
 * out[n, c, o] = src[n, c, indices[n, c, o]]: max pooling with the argmax
 * fixed. Indices are clamped into the plane. The geometry, when known, only
 * speeds up this op's own gradient (maxPool2dBackward).
 */
export function maxPool2dGather(src: Tensor, indices: Tensor, geo?: PoolGeometry): Tensor {
  if (src.rank !== 4 || indices.rank !== 4 || src.shape[0] !== indices.shape[0] || src.shape[1] !== indices.shape[1]) {
    throw new Error(`sleeve: maxPool2dGather: source ${src.describe()} and indices ${indices.describe()} must be [N, C, ·, ·] with the same N and C`);
  }
  checkInput(src, 'maxPool2dGather');
  if (src.shape[2] * src.shape[3] === 0 && indices.size > 0) {
    throw new Error(`sleeve: maxPool2dGather: source ${src.describe()} has empty planes for indices ${indices.describe()}`);
  }
  const out = empty(indices.shape);
  if (out.size > 0) {
    byPlanes('maxPool2dGather', src.shape, indices.shape, UNIT, 'out', (inPlanes, outPlanes) => ({
      entry: 'gather',
      buffers: { g: inPlanes(src), idx: outPlanes(indices), out: outPlanes(out) },
    }));
  }
  return record(out, 'maxPool2dGather', [src], (g) => [maxPool2dBackward(g, indices, src.shape, geo)]);
}
