// 2-D convolution, conv-transpose and the weight gradient (NCHW, PyTorch
// weight layouts). Three kernels over one geometry form a closed set under
// differentiation:
//   fwd(x, w)    x-space → y-space          (conv2d)
//   data(u, w)   y-space → x-space          (its adjoint in x: conv2d's input
//                                            gradient = convTranspose2d)
//   filter(x, u) x-space × y-space → w      (the adjoint in w)
// Each is a recorded op whose backward is made of the other two, so the
// gradient of a gradient (WGAN-GP's penalty) needs nothing more.
import { record } from '../autograd.js';
import { hasSubgroups } from '../device.js';
import { grid1d, getEngine } from '../engine.js';
import { K, conv2dRowsKernel } from '../kernels.js';
import { ROWS_MAX_KW, ROWS_MAX_SW, ROWS_PIXELS } from '../codegen/conv2d_rows.js';
import { empty, tidy, view, type Shape, type Tensor } from '../tensor.js';
import {
  collectingShapes, convGradVariant, convVariant, noteShape, registerProbe, setConvGradVariant, setConvVariant, shapeChoice,
  type ConvGradVariant, type ConvVariant,
} from '../tune.js';
import { rand } from './random.js';
import { gather } from './strided.js';
import { add } from './elementwise.js';
import { sum } from './reduce.js';
import { accumulate, bindingLimit } from './split.js';

type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns on the bottom/right of the output (PyTorch's output_padding). */
  outputPadding?: Pair;
}

/**
 * x-space [n, cin, h, w] and y-space [n, cout, ho, wo] joined by a kernel
 * [cout, cin, kh, kw]. ho/wo are explicit: conv-transpose may ask for fewer
 * rows than the natural conv output of its (padded) result.
 */
interface Geo {
  n: number; cin: number; h: number; w: number;
  cout: number; ho: number; wo: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
}

const xShape = (g: Geo): number[] => [g.n, g.cin, g.h, g.w];
const yShape = (g: Geo): number[] => [g.n, g.cout, g.ho, g.wo];
const wShape = (g: Geo): number[] => [g.cout, g.cin, g.kh, g.kw];

function pair(v: Pair | undefined, dflt: number, min: number, op: string, name: string): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`sleeve: ${op}: ${name} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

function spatial(opts: Conv2dOptions, op: string) {
  const [sh, sw] = pair(opts.stride, 1, 1, op, 'stride');
  const [ph, pw] = pair(opts.padding, 0, 0, op, 'padding');
  const [dh, dw] = pair(opts.dilation, 1, 1, op, 'dilation');
  return { sh, sw, ph, pw, dh, dw };
}

const fmt = (s: Shape): string => `[${s.join(', ')}]`;

function rank4(s: Shape, op: string, what: string): void {
  if (s.length !== 4) throw new Error(`sleeve: ${op}: ${what} must be rank 4, got ${fmt(s)}`);
}

/** Natural conv output size along one axis. */
function outSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Geometry of conv2d(x, w): both shapes checked, the output size derived. */
function convGeo(xs: Shape, ws: Shape, opts: Conv2dOptions, op: string, names = ['input', 'weight']): Geo {
  rank4(xs, op, `${names[0]} ${fmt(xs)}`);
  rank4(ws, op, `${names[1]} ${fmt(ws)}`);
  const sp = spatial(opts, op);
  const [n, cin, h, w] = xs;
  const [cout, wcin, kh, kw] = ws;
  if (wcin !== cin) {
    throw new Error(`sleeve: ${op}: ${names[0]} ${fmt(xs)} has ${cin} channels but ${names[1]} ${fmt(ws)} expects ${wcin} (weights are [out, in, kh, kw])`);
  }
  const ho = outSize(h, kh, sp.sh, sp.ph, sp.dh), wo = outSize(w, kw, sp.sw, sp.pw, sp.dw);
  if (ho < 1 || wo < 1) {
    throw new Error(`sleeve: ${op}: kernel ${fmt(ws)} (dilation ${sp.dh}×${sp.dw}) is larger than ${names[0]} ${fmt(xs)} padded by ${sp.ph}×${sp.pw}`);
  }
  return { n, cin, h, w, cout, ho, wo, kh, kw, ...sp };
}

// ---- raw kernels ------------------------------------------------------------

const FOUR_WG = 256; // pixels per workgroup in conv2d.wgsl (4 per invocation × 64)

/** Channels per invocation (the kernels' BLOCK): 8 reuses each gathered value
 * twice as often as 4; 4 when there are too few channels to fill 8. The
 * subgroup kernel also takes 16, as the variant `subgroup16` (lavapipe:
 * 1.2–1.3× faster than 8 on the critic's and classifier's layers and the
 * generator's conv-transpose; a GPU may prefer the registers free). */
const channelBlock = (channels: number, v: ConvVariant = 'plain'): number =>
  ((v === 'subgroup16' || v === 'rows16') && channels > 8 ? 16 : channels > 4 ? 8 : 4);

function uniformsOf(g: Geo): Record<string, number> {
  return {
    n: g.n, c_in: g.cin, h: g.h, w: g.w, c_out: g.cout, ho: g.ho, wo: g.wo, kh: g.kh, kw: g.kw,
    sh: g.sh, sw: g.sw, pad_h: g.ph, pad_w: g.pw, dh: g.dh, dw: g.dw,
  };
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

const geoKey = (g: Geo): string =>
  `${g.n}×${g.cin}×${g.h}×${g.w}→${g.cout}×${g.ho}×${g.wo} k${g.kh}×${g.kw} s${g.sh}×${g.sw} p${g.ph}×${g.pw} d${g.dh}×${g.dw}`;

/**
 * The variant for one of the three kernels on this geometry: tuneShapes()'s
 * choice for it, else the adapter-wide one. While tuneShapes() collects,
 * the geometry is reported with a way to run each candidate on it.
 */
function pick<V extends string>(family: string, g: Geo, candidates: V[], fallback: V, run: (v: V) => void): V {
  const key = geoKey(g);
  if (collectingShapes()) noteShape({ family, key, variants: candidates, run: run as (v: string) => void });
  const chosen = shapeChoice(family, key) as V | undefined;
  return chosen && candidates.includes(chosen) ? chosen : fallback;
}

/** Whether `rows16` (fwd_rows, runtime/codegen/conv2d_rows.ts) can run this
 * forward, or this input gradient as forwards of the flipped weights (one
 * per stride phase, rowsData): unit column dilation, rows of taps and
 * column strides it is generated for, a reduction over ≥ 8 channels; for
 * the input gradient a kernel at least as large as the stride (every phase
 * has taps) and no row dilation with a row stride. */
function rowsFit(family: 'conv-fwd' | 'conv-data', g: Geo): boolean {
  if (g.dw !== 1) return false;
  return family === 'conv-fwd'
    ? g.kw <= ROWS_MAX_KW && g.sw <= ROWS_MAX_SW && g.cin >= 8
    : g.cout >= 8 && Math.ceil(g.kw / g.sw) <= ROWS_MAX_KW && g.kh >= g.sh && g.kw >= g.sw && (g.sh === 1 || g.dh === 1);
}

/** Forward/data candidates for a reduction over `channels`: the subgroup
 * kernel works in chunks of 8 channels, so below 8 it would mostly multiply
 * zeros; the forward then has an entry that chunks the taps instead
 * (fwd_taps), the input gradient (a layer of < 8 outputs) has none. */
function fwdDataCandidates(family: 'conv-fwd' | 'conv-data', g: Geo, channels: number): ConvVariant[] {
  if (!(channels >= 8 || family === 'conv-fwd') || !hasSubgroups(8)) return ['plain'];
  return rowsFit(family, g) ? ['plain', 'subgroup', 'subgroup16', 'rows16'] : ['plain', 'subgroup', 'subgroup16'];
}

function fwdDataVariant(family: 'conv-fwd' | 'conv-data', g: Geo, channels: number, run: (v: ConvVariant) => void): ConvVariant {
  const candidates = fwdDataCandidates(family, g, channels);
  // rows16 where its kernel cannot run: the subgroup kernel on the same blocks
  const wanted = convVariant() === 'rows16' && !candidates.includes('rows16') ? 'subgroup16' : convVariant();
  return pick(family, g, candidates, candidates.includes(wanted) ? wanted : 'plain', run);
}

/** Where fwd_rows puts output pixel (oh, ow) of channel c, image nn:
 * nn·y_image + c·y_plane + y_off + oh·y_row + ow·y_col (conv2d_common.wgsl). */
interface Placement { y_image: number; y_plane: number; y_row: number; y_col: number; y_off: number }

/** A forward's own y-space, dense (the other entries ignore these). */
const dense = (g: Geo): Placement => ({ y_image: g.cout * g.ho * g.wo, y_plane: g.ho * g.wo, y_row: g.wo, y_col: 1, y_off: 0 });

/** fwd_rows: y = conv(x, w) + bias for a forward geometry rowsFit accepts,
 * its pixels placed in out by `at`. */
function rowsForward(x: Tensor, w: Tensor, b: Tensor | null, g: Geo, out: Tensor, at: Placement = dense(g)): void {
  const block = channelBlock(g.cout, 'rows16');
  const [gx, gy] = grid1d(g.n * g.ho * Math.ceil(g.wo / ROWS_PIXELS), 64);
  getEngine().dispatch(conv2dRowsKernel(g.kw, g.sw), {
    entry: 'fwd_rows',
    constants: { BLOCK: block },
    buffers: { src: x.buffer, wt: w.buffer, bias: (b ?? w).buffer, dst: out.buffer },
    uniforms: { ...uniformsOf(g), has_bias: b ? 1 : 0, ky_step: 1, kx_step: 1, ...at },
    workgroups: [gx, gy, Math.ceil(g.cout / block)],
  });
}

/**
 * The input gradient (x-space result of y-space u) as one stride-1 forward
 * per stride phase (qh, qw), the x-space pixels (qh + sh·a, qw + sw·b). The
 * taps that reach a phase are ky = ky0, ky0 + sh, … (ky·dh ≡ qh + ph mod sh:
 * all of them when sh = 1), and tap ky0 + m·sh reads y row a + ch − m·dh.
 * Flipping the m axis makes that a correlation: the phase is the forward of
 * u with the weights [c_in, c_out, my, mx] of its taps, flipped, over a
 * padding of dh·(my − 1) − ch, its pixels placed at stride sh, sw in x.
 */
function rowsData(u: Tensor, w: Tensor, b: Tensor | null, g: Geo, out: Tensor): void {
  for (let qh = 0; qh < g.sh; qh++) {
    for (let qw = 0; qw < g.sw; qw++) {
      const rows = Math.ceil((g.h - qh) / g.sh), cols = Math.ceil((g.w - qw) / g.sw);
      if (rows <= 0 || cols <= 0) continue;
      const ky0 = (qh + g.ph) % g.sh, kx0 = (qw + g.pw) % g.sw;
      const my = Math.ceil((g.kh - ky0) / g.sh), mx = Math.ceil((g.kw - kx0) / g.sw);
      const ch = (qh + g.ph - ky0) / g.sh, cw = (qw + g.pw - kx0) / g.sw;
      const wf = gather(w, {
        outShape: [g.cin, g.cout, my, mx],
        strides: [g.kh * g.kw, g.cin * g.kh * g.kw, -g.sh * g.kw, -g.sw],
        offset: (ky0 + (my - 1) * g.sh) * g.kw + kx0 + (mx - 1) * g.sw,
      });
      const phase: Geo = {
        n: g.n, cin: g.cout, h: g.ho, w: g.wo, cout: g.cin, ho: rows, wo: cols, kh: my, kw: mx,
        sh: 1, sw: 1, ph: g.dh * (my - 1) - ch, pw: mx - 1 - cw, dh: g.dh, dw: 1,
      };
      rowsForward(u, wf, b, phase, out, { y_image: g.cin * g.h * g.w, y_plane: g.h * g.w, y_row: g.sh * g.w, y_col: g.sw, y_off: qh * g.w + qw });
      wf.dispose();
    }
  }
}

const fwdDataKernel = (v: ConvVariant) => (v === 'plain' ? K.conv2d : K.conv2dSubgroup);

function fwdKernel(x: Tensor, w: Tensor, b: Tensor | null, g: Geo, forced?: ConvVariant): Tensor {
  const out = empty(yShape(g));
  if (out.size === 0) return out;
  const variant = forced ?? fwdDataVariant('conv-fwd', g, g.cin, (v) => tidy(() => {
    fwdKernel(rand(xShape(g)), rand(wShape(g)), null, g, v);
  }));
  // (a forced rows16 that cannot run here runs as subgroup16 below)
  if (variant === 'rows16' && rowsFit('conv-fwd', g)) {
    rowsForward(x, w, b, g, out);
    return out;
  }
  const block = channelBlock(g.cout, variant);
  const [gx, gy] = grid1d(g.n * g.ho * g.wo, FOUR_WG);
  getEngine().dispatch(fwdDataKernel(variant), {
    entry: variant !== 'plain' && g.cin < 8 ? 'fwd_taps' : 'fwd',
    constants: { BLOCK: block },
    buffers: { src: x.buffer, wt: w.buffer, bias: (b ?? w).buffer, dst: out.buffer },
    uniforms: { ...uniformsOf(g), has_bias: b ? 1 : 0, ky_step: 1, kx_step: 1, ...dense(g) },
    workgroups: [gx, gy, Math.ceil(g.cout / block)],
  });
  return out;
}

function dataKernel(u: Tensor, w: Tensor, b: Tensor | null, g: Geo, forced?: ConvVariant): Tensor {
  const out = empty(xShape(g));
  if (out.size === 0) return out;
  const variant = forced ?? fwdDataVariant('conv-data', g, g.cout, (v) => tidy(() => {
    dataKernel(rand(yShape(g)), rand(wShape(g)), null, g, v);
  }));
  if (variant === 'rows16' && rowsFit('conv-data', g)) {
    rowsData(u, w, b, g, out);
    return out;
  }
  // Pixels of the largest stride phase; the others have the same or one row/column fewer.
  const phasePixels = g.n * Math.ceil(g.h / g.sh) * Math.ceil(g.w / g.sw);
  const [gx, gy] = grid1d(phasePixels, FOUR_WG);
  const block = channelBlock(g.cin, variant);
  getEngine().dispatch(fwdDataKernel(variant), {
    entry: 'data',
    constants: { BLOCK: block },
    buffers: { src: u.buffer, wt: w.buffer, bias: (b ?? w).buffer, dst: out.buffer },
    uniforms: { ...uniformsOf(g), has_bias: b ? 1 : 0, ky_step: g.sh / gcd(g.sh, g.dh), kx_step: g.sw / gcd(g.sw, g.dw), ...dense(g) },
    workgroups: [gx, gy, g.sh * g.sw * Math.ceil(g.cin / block)],
  });
  return out;
}

/** Invocations worth having in flight before the reduction is split further. */
const FILTER_TARGET_INVOCATIONS = 8192;
/** Output pixels a chunk should at least cover, so partial sums stay few. */
const FILTER_MIN_CHUNK_PIXELS = 512;

function filterKernel(x: Tensor, u: Tensor, g: Geo, forced?: ConvGradVariant): Tensor {
  const taps = g.cin * g.kh * g.kw;
  const shape = wShape(g);
  if (taps * g.cout === 0) return empty(shape);
  // main: blocks of 4 or 8 input channels at one (ky, kx), BLOCK output channels,
  // a workgroup of 64 tap blocks. flat: too few input channels to fill those.
  const flat = g.cin < 4;
  const candidates = gradCandidates(g, flat);
  // rows where its kernel cannot run: main on the same blocks as direct16
  const wanted = convGradVariant() === 'rows' && !candidates.includes('rows') ? 'direct16' : convGradVariant();
  const variant = forced ?? pick<ConvGradVariant>('conv-grad', g, candidates,
    candidates.includes(wanted) ? wanted : 'direct', (v) => tidy(() => {
      filterKernel(rand(xShape(g)), rand(yShape(g)), g, v).dispose();
    }));
  if (variant === 'tiled') return filterTiled(x, u, g);
  if (variant === 'rows' && rowsGradFit(g)) return filterRows(x, u, g);
  // direct16: each gathered x value feeds 16 output channels instead of 8
  // (lavapipe: 1.04–1.24× on the critic's and classifier's layers)
  // (a forced rows that cannot run here runs as direct16)
  const block = flat ? 4 : (variant === 'direct16' || variant === 'rows') && g.cout > 8 ? 16 : channelBlock(g.cout);
  // 8 input channels per invocation from 8 on: half the g loads per
  // multiply-add (lavapipe: 1.2–1.4× on the critic's and classifier's layers)
  const ciBlock = g.cin >= 8 ? 8 : 4;
  const tapGroups = Math.ceil((Math.ceil(g.cin / ciBlock) * g.kh * g.kw) / 64);
  const coBlocks = Math.ceil(g.cout / block);
  const perChunk = flat ? Math.ceil(taps / 4) * coBlocks : tapGroups * 64 * coBlocks; // invocations
  const { rpc, chunks } = pixelChunks(g, Math.ceil(FILTER_TARGET_INVOCATIONS / perChunk));
  const partial = empty(chunks === 1 ? shape : [chunks, g.cout, taps]);
  getEngine().dispatch(K.conv2dGrad, {
    entry: flat ? 'flat' : 'main',
    constants: flat ? {} : { BLOCK: block, CI_BLOCK: ciBlock },
    buffers: { x: x.buffer, g: u.buffer, out: partial.buffer },
    // rows = 0 (an empty batch) leaves one chunk with nothing to add: zeros.
    uniforms: { ...uniformsOf(g), rows_per_chunk: rpc, n_chunks: chunks },
    workgroups: flat ? grid1d(perChunk * chunks, 64) : [tapGroups, coBlocks, chunks],
  });
  return sumChunks(partial, chunks, shape);
}

/** Weight-gradient candidates: direct16 only where it differs from direct
 * (main, more than 8 output channels), rows where it fits. */
function gradCandidates(g: Geo, flat: boolean): ConvGradVariant[] {
  const out: ConvGradVariant[] = !flat && g.cout > 8 ? ['direct', 'direct16', 'tiled'] : ['direct', 'tiled'];
  return rowsGradFit(g) ? [...out, 'rows'] : out;
}

/** conv2d_grad.wgsl's `rows`: unit column stride and dilation, a row of at
 * most 4 taps, at least 4 input channels. */
const rowsGradFit = (g: Geo): boolean => g.sw === 1 && g.dw === 1 && g.kw <= 4 && g.cin >= 4;

/** The weight gradient with conv2d_grad.wgsl's `rows`: invocations of 4
 * input channels × one ky × 8 output channels, chunks as main's. */
function filterRows(x: Tensor, u: Tensor, g: Geo): Tensor {
  const shape = wShape(g);
  const tapBlocks = Math.ceil(g.cin / 4) * g.kh, coBlocks = Math.ceil(g.cout / 8);
  const { rpc, chunks } = pixelChunks(g, Math.ceil(FILTER_TARGET_INVOCATIONS / (tapBlocks * coBlocks)));
  const partial = empty(chunks === 1 ? shape : [chunks, g.cout, g.cin * g.kh * g.kw]);
  getEngine().dispatch(K.conv2dGrad, {
    entry: 'rows',
    buffers: { x: x.buffer, g: u.buffer, out: partial.buffer },
    uniforms: { ...uniformsOf(g), rows_per_chunk: rpc, n_chunks: chunks },
    workgroups: [Math.ceil(tapBlocks / 64), coBlocks, chunks],
  });
  return sumChunks(partial, chunks, shape);
}

/** Output rows per chunk of the weight gradient's reduction: `want` chunks,
 * fewer if a chunk would cover under FILTER_MIN_CHUNK_PIXELS pixels. */
function pixelChunks(g: Geo, want: number): { rpc: number; chunks: number } {
  const rows = g.n * g.ho;
  const n = Math.min(want, Math.floor((rows * g.wo) / FILTER_MIN_CHUNK_PIXELS), 65535);
  const rpc = Math.max(1, Math.ceil(rows / Math.max(1, n)));
  return { rpc, chunks: Math.max(1, Math.ceil(rows / rpc)) };
}

/** The chunks' partial weight gradients ([chunks, cout, taps]) summed into the weight's shape. */
function sumChunks(partial: Tensor, chunks: number, shape: Shape): Tensor {
  if (chunks === 1) return partial;
  const summed = sum(partial, 0, true); // [1, cout, taps]
  partial.dispose();
  const out = view(summed, shape);
  summed.dispose();
  return out;
}

/** Workgroups the tiled weight gradient should have in flight; the pixel
 * chunks make up what the 64×64 output tiles lack. */
const FILTER_TILED_WORKGROUPS = 512;

function filterTiled(x: Tensor, u: Tensor, g: Geo): Tensor {
  const taps = g.cin * g.kh * g.kw;
  const shape = wShape(g);
  const tiles = Math.ceil(taps / 64) * Math.ceil(g.cout / 64);
  const { rpc, chunks } = pixelChunks(g, Math.ceil(FILTER_TILED_WORKGROUPS / tiles));
  const partial = empty(chunks === 1 ? shape : [chunks, g.cout, taps]);
  getEngine().dispatch(K.conv2dGrad, {
    entry: 'tiled',
    buffers: { x: x.buffer, g: u.buffer, out: partial.buffer },
    uniforms: { ...uniformsOf(g), rows_per_chunk: rpc, n_chunks: chunks },
    workgroups: [Math.ceil(taps / 64), Math.ceil(g.cout / 64), chunks],
  });
  return sumChunks(partial, chunks, shape);
}

// ---- tensors past the binding limit -----------------------------------------
// A storage binding may not exceed maxStorageBufferBindingSize (128 MiB on
// lavapipe). A batch whose input or output is larger is run a few images at
// a time: NCHW makes every batch chunk one contiguous range, moved with
// buffer copies (no such limit, and no offset alignment to meet).

function fitsBinding(bytes: number): boolean {
  return bytes <= bindingLimit();
}

/**
 * run(geo, ins) on chunks of the batch when a per-image operand would not fit
 * one binding. ins[i] holds insPer[i] floats per image; the result holds
 * outPer per image (concatenated) or, with outPer = 0, is summed over chunks.
 */
function byBatch(op: string, geo: Geo, ins: Tensor[], insPer: number[], outPer: number, outShape: number[],
  run: (g: Geo, ins: Tensor[]) => Tensor): Tensor {
  const worst = Math.max(outPer, ...insPer);
  if (fitsBinding(geo.n * worst * 4)) return run(geo, ins);
  if (!fitsBinding(worst * 4)) {
    throw new Error(`sleeve: ${op}: one image of ${ins.map((t) => t.describe()).join(', ')} exceeds the ${bindingLimit()}-byte storage binding limit`);
  }
  const nb = Math.floor(bindingLimit() / (worst * 4));
  const e = getEngine();
  const out = outPer ? empty(outShape) : null;
  let acc: Tensor | null = null;
  for (let n0 = 0; n0 < geo.n; n0 += nb) {
    const m = Math.min(nb, geo.n - n0);
    const parts = ins.map((t, i) => {
      const part = empty([m, insPer[i]]);
      e.copy(t.buffer, n0 * insPer[i] * 4, part.buffer, 0, m * insPer[i] * 4);
      return part;
    });
    const r = run({ ...geo, n: m }, parts);
    for (const part of parts) part.dispose();
    if (out) {
      e.copy(r.buffer, 0, out.buffer, n0 * outPer * 4, m * outPer * 4);
      r.dispose();
    } else acc = accumulate(acc, r, add);
  }
  return out ?? acc!;
}

const imageX = (g: Geo): number => g.cin * g.h * g.w;
const imageY = (g: Geo): number => g.cout * g.ho * g.wo;

function fwdRaw(x: Tensor, w: Tensor, b: Tensor | null, geo: Geo): Tensor {
  return byBatch('conv2d', geo, [x], [imageX(geo)], imageY(geo), yShape(geo), (g, [xs]) => fwdKernel(xs, w, b, g));
}

function dataRaw(u: Tensor, w: Tensor, b: Tensor | null, geo: Geo): Tensor {
  return byBatch('conv2dInputGrad', geo, [u], [imageY(geo)], imageX(geo), xShape(geo), (g, [us]) => dataKernel(us, w, b, g));
}

function filterRaw(x: Tensor, u: Tensor, geo: Geo): Tensor {
  return byBatch('conv2dWeightGrad', geo, [x, u], [imageX(geo), imageY(geo)], 0, wShape(geo), (g, [xs, us]) => filterKernel(xs, us, g));
}

// ---- the closed set of recorded ops -----------------------------------------

const biasGrad = (g: Tensor): Tensor => sum(g, [0, 2, 3]);

function fwdOp(x: Tensor, w: Tensor, b: Tensor | null, geo: Geo): Tensor {
  const out = fwdRaw(x, w, b, geo);
  return record(out, 'conv2d', b ? [x, w, b] : [x, w], (g, needs) => [
    needs[0] ? dataOp(g, w, null, geo) : null,
    needs[1] ? filterOp(x, g, geo) : null,
    b && needs[2] ? biasGrad(g) : null,
  ]);
}

function dataOp(u: Tensor, w: Tensor, b: Tensor | null, geo: Geo): Tensor {
  const out = dataRaw(u, w, b, geo);
  return record(out, 'conv2dInputGrad', b ? [u, w, b] : [u, w], (g, needs) => [
    needs[0] ? fwdOp(g, w, null, geo) : null,
    needs[1] ? filterOp(g, u, geo) : null,
    b && needs[2] ? biasGrad(g) : null,
  ]);
}

function filterOp(x: Tensor, u: Tensor, geo: Geo): Tensor {
  const out = filterRaw(x, u, geo);
  return record(out, 'conv2dWeightGrad', [x, u], (g, needs) => [
    needs[0] ? dataOp(u, g, null, geo) : null,
    needs[1] ? fwdOp(x, g, null, geo) : null,
  ]);
}

// ---- public ops -------------------------------------------------------------

function checkBias(b: Tensor | null | undefined, channels: number, op: string, w: Tensor): void {
  if (b && (b.rank !== 1 || b.size !== channels)) {
    throw new Error(`sleeve: ${op}: bias ${b.describe()} does not fit weight ${w.describe()} (needs [${channels}])`);
  }
}

function checkY(t: Tensor, geo: Geo, op: string, what: string, against: string): void {
  const want = yShape(geo);
  if (t.rank !== 4 || t.shape.some((d, i) => d !== want[i])) {
    throw new Error(`sleeve: ${op}: ${what} ${t.describe()} does not match the conv output ${fmt(want)} of ${against}`);
  }
}

/**
 * torch.nn.functional.conv2d: x [N, Cin, H, W], w [Cout, Cin, kh, kw],
 * bias [Cout] → [N, Cout, Ho, Wo], Ho = ⌊(H + 2p − d(kh−1) − 1)/s⌋ + 1.
 */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const geo = convGeo(x.shape, w.shape, opts, 'conv2d');
  checkBias(bias, geo.cout, 'conv2d', w);
  return fwdOp(x, w, bias ?? null, geo);
}

/**
 * The gradient of conv2d with respect to its input: g [N, Cout, Ho, Wo] and
 * w [Cout, Cin, kh, kw] → [N, Cin, H, W] = inputShape.
 */
export function conv2dInputGrad(g: Tensor, w: Tensor, inputShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const geo = convGeo(inputShape, w.shape, opts, 'conv2dInputGrad');
  checkY(g, geo, 'conv2dInputGrad', 'gradient', `input ${fmt(inputShape)} and weight ${w.describe()}`);
  return dataOp(g, w, null, geo);
}

/**
 * The gradient of conv2d with respect to its weight: x [N, Cin, H, W] and
 * g [N, Cout, Ho, Wo] → weightShape [Cout, Cin, kh, kw].
 */
export function conv2dWeightGrad(x: Tensor, g: Tensor, weightShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const geo = convGeo(x.shape, weightShape, opts, 'conv2dWeightGrad');
  checkY(g, geo, 'conv2dWeightGrad', 'gradient', `input ${x.describe()} and weight ${fmt(weightShape)}`);
  return filterOp(x, g, geo);
}

/**
 * torch.nn.functional.conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout, kh, kw],
 * bias [Cout] → [N, Cout, Hout, Wout], Hout = (H−1)s − 2p + d(kh−1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  rank4(x.shape, op, `input ${x.describe()}`);
  rank4(w.shape, op, `weight ${w.describe()}`);
  const sp = spatial(opts, op);
  const [oph, opw] = pair(opts.outputPadding, 0, 0, op, 'outputPadding');
  if (oph >= Math.max(sp.sh, sp.dh) || opw >= Math.max(sp.sw, sp.dw)) {
    throw new Error(`sleeve: ${op}: outputPadding ${oph}×${opw} must be smaller than stride ${sp.sh}×${sp.sw} or dilation ${sp.dh}×${sp.dw}`);
  }
  const [n, cin, h, wd] = x.shape;
  const [wcin, cout, kh, kw] = w.shape;
  if (wcin !== cin) {
    throw new Error(`sleeve: ${op}: input ${x.describe()} has ${cin} channels but weight ${w.describe()} expects ${wcin} (weights are [in, out, kh, kw])`);
  }
  checkBias(bias, cout, op, w);
  const hout = (h - 1) * sp.sh - 2 * sp.ph + sp.dh * (kh - 1) + oph + 1;
  const wout = (wd - 1) * sp.sw - 2 * sp.pw + sp.dw * (kw - 1) + opw + 1;
  if (hout < 1 || wout < 1) {
    throw new Error(`sleeve: ${op}: padding ${sp.ph}×${sp.pw} leaves no output for input ${x.describe()} and weight ${w.describe()}`);
  }
  // The conv whose input gradient this is: x-space is our output, y-space our input.
  const geo: Geo = { n, cin: cout, h: hout, w: wout, cout: cin, ho: h, wo: wd, kh, kw, ...sp };
  return dataOp(x, w, bias ?? null, geo);
}

// The tuner's probe: a classifier-like layer (32 → 32 channels, 3×3) with
// enough pixels (2×48×48) to fill many workgroups: with few, the two kernels
// time alike on a CPU driver and the choice is noise.
registerProbe('conv', {
  variants: ['plain', 'subgroup', 'subgroup16', 'rows16'],
  available: (v) => v === 'plain' || hasSubgroups(8),
  run: (v) => {
    tidy(() => {
      const x = rand([2, 32, 48, 48], { seed: 5 }), w = rand([32, 32, 3, 3], { seed: 6 });
      fwdKernel(x, w, null, convGeo(x.shape, w.shape, { padding: 1 }, 'conv2d'), v as ConvVariant);
    });
  },
  select: (v) => setConvVariant(v as ConvVariant),
});

// The weight gradient's probe: the same critic-sized layer.
registerProbe('conv-grad', {
  variants: ['direct', 'direct16', 'tiled'],
  run: (v) => {
    tidy(() => {
      const geo = convGeo([4, 64, 24, 24], [32, 64, 5, 5], { stride: 2, padding: 2 }, 'conv2d');
      const x = rand([4, 64, 24, 24], { seed: 5 }), u = rand([4, 32, geo.ho, geo.wo], { seed: 7 });
      filterKernel(x, u, geo, v as ConvGradVariant);
    });
  },
  select: (v) => setConvGradVariant(v as ConvGradVariant),
});
