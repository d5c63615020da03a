// Batch normalisation (torch.nn.functional.batch_norm for NCHW inputs).
// Forward: one fused kernel per mode. Backward: a fused kernel (dx, dweight,
// dbias in one dispatch) on a plain backward pass; when the graph is kept the
// rule is composed from differentiable ops instead, so grad-of-grad works.
import { isGradEnabled, record } from '../autograd.js';
import { getEngine, grid1d, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, tidy, type Tensor } from '../tensor.js';
import { registerProbe } from '../tune.js';
import { rand } from './random.js';
import { add, full, mul, rsqrt, square, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { reshape } from './shape.js';
import { accumulate, rowRanges, rowsOf, type RowRange } from './split.js';

export interface BatchNormOptions {
  /** Use (and update) batch statistics; false uses the running statistics. */
  training: boolean;
  /** running = (1 − momentum)·running + momentum·batch */
  momentum?: number;
  eps?: number;
}

interface Geometry {
  n: number;
  c: number;
  plane: number;
}

function geometry(x: Tensor): Geometry {
  if (x.rank < 2) throw new Error(`sleeve: batchNorm2d: input ${x.describe()} needs at least [N, C]`);
  const plane = x.shape.slice(2).reduce((a, b) => a * b, 1);
  return { n: x.shape[0], c: x.shape[1], plane };
}

function checkPerChannel(t: Tensor | null, what: string, x: Tensor, c: number): void {
  if (t && (t.rank !== 1 || t.shape[0] !== c)) {
    throw new Error(`sleeve: batchNorm2d: ${what} ${t.describe()} must be [${c}] for input ${x.describe()}`);
  }
}

/** Uniforms shared by every batchnorm entry (the kernel's Params struct). */
function params(geo: Geometry, eps: number, momentum = 0): Record<string, number> {
  const count = geo.n * geo.plane;
  return {
    n_batch: geo.n, channels: geo.c, plane: geo.plane, eps, momentum,
    unbias: count > 1 ? count / (count - 1) : 1,
    chunk_len: 0, n_chunks: 0, stat_count: count,
  };
}

/** Ranges of images that fit one storage binding (one range unless x is past the limit). */
function imageRanges(x: Tensor, geo: Geometry): RowRange[] {
  return rowRanges(geo.n, [geo.c * geo.plane], 'batchNorm2d', () => `input ${x.describe()}`);
}

/** Uniforms of a split entry run on a range of r.count images, `chunks`
 * chunks per channel; chunks of a multiple of 4 values for the *4 entries. */
function rangeParams(base: Record<string, number>, geo: Geometry, r: RowRange, chunks: number): Record<string, number> {
  const len = Math.ceil((r.count * geo.plane) / chunks);
  return { ...base, n_batch: r.count, chunk_len: vec4Planes(geo) ? Math.ceil(len / 4) * 4 : len, n_chunks: chunks };
}

/** Planes of a multiple of 4 values: every entry has a vec4 form (the *4 entries). */
const vec4Planes = (geo: Geometry): boolean => geo.plane % 4 === 0;

/** Partial sums over every image range, added: the input of a *_finish entry. */
function summedParts(ranges: RowRange[], dispatchInto: (r: RowRange, part: Tensor) => void, partSize: number): Tensor {
  let total: Tensor | null = null;
  for (const r of ranges) {
    const part = empty([partSize]);
    dispatchInto(r, part);
    total = accumulate(total, part, add);
  }
  return total!;
}

/** Chunks per channel for the split statistics: enough workgroups to fill a
 * GPU (~1024 in all), each over at least 4096 elements; 1 = one workgroup per
 * channel (train_forward). Which of the two runs is measured per adapter
 * (tune.ts): on lavapipe one workgroup per channel was 1.4× faster. */
export const bnSplit = { enabled: false, minPerChunk: 4096, targetWorkgroups: 1024 };
function statChunks(geo: Geometry): number {
  if (!bnSplit.enabled) return 1;
  const count = geo.n * geo.plane;
  const byWork = Math.floor(count / bnSplit.minPerChunk);
  const byFill = Math.ceil(bnSplit.targetWorkgroups / geo.c);
  return Math.max(1, Math.min(byWork, byFill));
}

/** Per-channel workgroups, folded past the per-dimension limit. */
const channelGrid = (c: number) => grid1d(c, 1);

/**
 * y = (x − mean) / sqrt(var + eps) · weight + bias, per channel of x [N, C, ...].
 * Training normalises with the batch statistics and, when running buffers are
 * given, updates them in place (momentum, unbiased variance; not recorded on
 * the tape). Eval normalises with the running statistics. Arguments in
 * torch.nn.functional.batch_norm's order: (input, running_mean, running_var,
 * weight, bias).
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const geo = geometry(x);
  const { training } = opts;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  checkPerChannel(weight, 'weight', x, geo.c);
  checkPerChannel(bias, 'bias', x, geo.c);
  checkPerChannel(runningMean, 'runningMean', x, geo.c);
  checkPerChannel(runningVar, 'runningVar', x, geo.c);
  if (!runningMean !== !runningVar) {
    throw new Error(`sleeve: batchNorm2d: give both runningMean and runningVar or neither (input ${x.describe()})`);
  }
  if (!training && !runningMean) {
    throw new Error(`sleeve: batchNorm2d: eval mode needs runningMean and runningVar (input ${x.describe()})`);
  }
  const count = geo.n * geo.plane;
  if (training && count < 2) {
    throw new Error(`sleeve: batchNorm2d: training needs more than one value per channel, got input ${x.describe()}`);
  }
  const e = getEngine();
  const y = empty(x.shape);
  if (x.size === 0) return y;
  const uniforms = params(geo, eps, momentum);
  // Only one of weight/bias given: stand in the identity for the other, so
  // the kernel has a single affine switch. Neither: AFFINE = 0, and x (bound
  // read-only alongside) fills the unused bindings.
  const wT = weight ?? (bias ? full([geo.c], 1) : null);
  const bT = bias ?? (weight ? full([geo.c], 0) : null);
  const AFFINE = wT ? 1 : 0;
  const affine = (xb: GPUBuffer | GPUBufferBinding) => ({ weight: wT?.buffer ?? xb, bias: bT?.buffer ?? xb });

  const ranges = imageRanges(x, geo);
  const row = geo.c * geo.plane;
  const v4 = vec4Planes(geo);
  const normalise = () => {
    for (const r of ranges) {
      const xr = rowsOf(x, r, row), yr = rowsOf(y, r, row);
      e.dispatch(K.batchnorm, {
        entry: v4 ? 'eval_forward4' : 'eval_forward', constants: { AFFINE },
        buffers: { ...(v4 ? { x4: xr, y4: yr } : { x: xr, y: yr }), ...affine(xr), mean_in: mu.buffer, var_in: va.buffer },
        uniforms: { ...uniforms, n_batch: r.count }, workgroups: gridStride((r.count * row) / (v4 ? 4 : 1)),
      });
    }
  };
  let mu: Tensor, va: Tensor;
  if (training) {
    mu = empty([geo.c]);
    va = empty([geo.c]);
    const chunks = statChunks({ ...geo, n: ranges[0].count });
    if (ranges.length > 1 || chunks > 1) {
      // Few channels over many elements (or a batch past the binding limit):
      // statistics from many workgroups per channel, then the normalisation
      // one invocation per element.
      for (const [moment, out] of [[1, mu], [2, va]] as const) {
        const part = summedParts(ranges, (r, into) => e.dispatch(K.batchnorm, {
          entry: v4 ? 'stats_partial4' : 'stats_partial', constants: { MOMENT: moment },
          // mean_in is read only for the second moment
          buffers: { [v4 ? 'x4' : 'x']: rowsOf(x, r, row), part_out: into.buffer, mean_in: mu.buffer },
          uniforms: rangeParams(uniforms, geo, r, chunks), workgroups: grid1d(geo.c * chunks, 1),
        }), geo.c * chunks);
        e.dispatch(K.batchnorm, {
          entry: 'stats_finish',
          buffers: { part_in: part.buffer, mean_out: out.buffer },
          uniforms: { ...uniforms, n_chunks: chunks }, workgroups: [Math.ceil(geo.c / 64)],
        });
        part.dispose();
      }
      normalise();
    } else {
      e.dispatch(K.batchnorm, {
        entry: v4 ? 'train_forward4' : 'train_forward', constants: { AFFINE },
        buffers: { ...(v4 ? { x4: x.buffer, y4: y.buffer } : { x: x.buffer, y: y.buffer }), ...affine(x.buffer), mean_out: mu.buffer, var_out: va.buffer },
        uniforms, workgroups: channelGrid(geo.c),
      });
    }
    if (runningMean && runningVar) {
      // A raw dispatch, never recorded: the running statistics are state, not part of the graph.
      e.dispatch(K.batchnorm, {
        entry: 'running',
        buffers: { mean_in: mu.buffer, var_in: va.buffer, run_mean: runningMean.buffer, run_var: runningVar.buffer },
        uniforms, workgroups: [Math.ceil(geo.c / 64)],
      });
    }
  } else {
    mu = runningMean!;
    va = runningVar!;
    normalise();
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const out = record(y, 'batchNorm2d', inputs, (g, needs) => {
    const [dx, dw, db] = isGradEnabled()
      ? composedBackward(g, x, weight, training ? null : [mu, va], eps)
      : fusedBackward(g, x, wT, mu, va, eps, training);
    const res: (Tensor | null)[] = [needs[0] ? dx : null];
    let k = 1;
    if (weight) res.push(needs[k++] ? dw : null);
    if (bias) res.push(needs[k++] ? db : null);
    return res;
  }, [
    // batch statistics and a stand-in weight belong to the node (freed with
    // the output, or at once when nothing will run backward); running
    // statistics are the module's state and are not
    ...(training ? [mu, va] : []),
    ...(wT && wT !== weight ? [wT] : []),
  ]);
  if (bT !== bias) bT?.dispose(); // the forward was its only reader
  return out;
}

/** One dispatch: dx, dweight, dbias. Not differentiable (used only when no graph is kept). */
function fusedBackward(g: Tensor, x: Tensor, weight: Tensor | null, mu: Tensor, va: Tensor, eps: number, training: boolean): Tensor[] {
  const geo = geometry(x);
  const dx = empty(x.shape);
  const dw = empty([geo.c]);
  const db = empty([geo.c]);
  const e = getEngine();
  const constants = { AFFINE: weight ? 1 : 0, TRAIN: training ? 1 : 0 };
  const ranges = imageRanges(x, geo);
  const chunks = statChunks({ ...geo, n: ranges[0].count });
  const v4 = vec4Planes(geo);
  if (ranges.length > 1 || chunks > 1) {
    const base = params(geo, eps);
    const row = geo.c * geo.plane;
    const part = summedParts(ranges, (r, into) => e.dispatch(K.batchnorm, {
      entry: v4 ? 'bwd_partial4' : 'bwd_partial',
      buffers: {
        ...(v4 ? { x4: rowsOf(x, r, row), g4: rowsOf(g, r, row) } : { x: rowsOf(x, r, row), g: rowsOf(g, r, row) }),
        mean_in: mu.buffer, var_in: va.buffer, part_out: into.buffer,
      },
      uniforms: rangeParams(base, geo, r, chunks), workgroups: grid1d(geo.c * chunks, 1),
    }), geo.c * chunks * 2);
    e.dispatch(K.batchnorm, {
      entry: 'bwd_finish',
      buffers: { part_in: part.buffer, dweight: dw.buffer, dbias: db.buffer },
      uniforms: { ...base, n_chunks: chunks }, workgroups: [Math.ceil(geo.c / 64)],
    });
    part.dispose();
    for (const r of ranges) {
      const xr = rowsOf(x, r, row), gr = rowsOf(g, r, row), dxr = rowsOf(dx, r, row);
      e.dispatch(K.batchnorm, {
        entry: v4 ? 'bwd_apply4' : 'bwd_apply', constants,
        buffers: {
          ...(v4 ? { x4: xr, g4: gr, dx4: dxr } : { x: xr, g: gr, dx: dxr }),
          weight: weight?.buffer ?? xr, mean_in: mu.buffer, var_in: va.buffer, dbias: db.buffer, dweight: dw.buffer,
        },
        uniforms: { ...base, n_batch: r.count }, workgroups: gridStride((r.count * row) / (v4 ? 4 : 1)),
      });
    }
    return [dx, dw, db];
  }
  e.dispatch(K.batchnorm, {
    entry: v4 ? 'backward4' : 'backward', constants,
    buffers: {
      ...(v4 ? { x4: x.buffer, g4: g.buffer, dx4: dx.buffer } : { x: x.buffer, g: g.buffer, dx: dx.buffer }),
      weight: weight?.buffer ?? x.buffer, mean_in: mu.buffer, var_in: va.buffer, dweight: dw.buffer, dbias: db.buffer,
    },
    uniforms: params(geo, eps), workgroups: channelGrid(geo.c),
  });
  return [dx, dw, db];
}

/**
 * The same gradients in differentiable ops. Training recomputes the batch
 * statistics from x so that their dependence on x is on the tape; eval uses
 * the (constant) running statistics.
 */
function composedBackward(g: Tensor, x: Tensor, weight: Tensor | null, running: [Tensor, Tensor] | null, eps: number): Tensor[] {
  const c = x.shape[1];
  const bshape = x.shape.map((d, i) => (i === 1 ? c : 1));
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  let xhat: Tensor, inv: Tensor;
  if (running) {
    inv = rsqrt(add(reshape(running[1], bshape), eps));
    xhat = mul(sub(x, reshape(running[0], bshape)), inv);
  } else {
    const xc = sub(x, mean(x, axes, true));
    inv = rsqrt(add(mean(square(xc), axes, true), eps));
    xhat = mul(xc, inv);
  }
  const gw = weight ? mul(g, reshape(weight, bshape)) : g;
  const dx = running
    ? mul(gw, inv)
    : mul(inv, sub(sub(gw, mean(gw, axes, true)), mul(xhat, mean(mul(gw, xhat), axes, true))));
  return [dx, sum(mul(g, xhat), axes), sum(g, axes)];
}

// The tuner's probes: batch statistics of a classifier-sized activation, then,
// on adapters fast enough that the first took under 2 ms (a GPU, where the two
// were a coin toss at that size), of a full batch-16 classifier activation,
// whose choice wins.
const bnProbe = (shape: number[]) => () => {
  tidy(() => {
    const x = rand(shape, { seed: 3 });
    batchNorm2d(x, null, null, null, null, { training: true });
  });
};
const selectBn = (v: string) => { bnSplit.enabled = v === 'split'; };
registerProbe('batchnorm', { variants: ['single', 'split'], run: bnProbe([8, 32, 96, 128]), select: selectBn });
registerProbe('batchnorm-large', {
  variants: ['single', 'split'],
  skip: (t) => Math.min(t['batchnorm:single'] ?? Infinity, t['batchnorm:split'] ?? Infinity) >= 2,
  run: bnProbe([16, 32, 128, 258]),
  select: selectBn,
});
