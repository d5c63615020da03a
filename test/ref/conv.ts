// f64 references for 2-D convolution (NCHW, PyTorch layouts), written as the
// textbook definitions: conv as a direct sum, conv-transpose as a scatter of
// every input element through the kernel, the weight gradient as a sum over
// images and output pixels. The GPU kernels use other formulations (implicit
// GEMM, phase-split gather, chunked reduction), so agreement means something.

export type Pair = number | [number, number];

export interface ConvOpts {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export interface ConvTransposeOpts extends ConvOpts {
  outputPadding?: Pair;
}

/** Shapes and spacing of one conv: x [n, cin, h, w] → y [n, cout, ho, wo] with kernel [cout, cin, kh, kw]. */
export interface Geo {
  n: number; cin: number; h: number; w: number;
  cout: number; ho: number; wo: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
}

const pair = (v: Pair | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

function spacing(o: ConvOpts) {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  return { sh, sw, ph, pw, dh, dw };
}

export function convGeo(xs: number[], ws: number[], o: ConvOpts = {}): Geo {
  const s = spacing(o);
  const [n, cin, h, w] = xs, [cout, , kh, kw] = ws;
  const ho = Math.floor((h + 2 * s.ph - s.dh * (kh - 1) - 1) / s.sh) + 1;
  const wo = Math.floor((w + 2 * s.pw - s.dw * (kw - 1) - 1) / s.sw) + 1;
  return { n, cin, h, w, cout, ho, wo, kh, kw, ...s };
}

/** Geometry of convTranspose2d(x, w) seen as the conv it is the input gradient of. */
export function convTransposeGeo(xs: number[], ws: number[], o: ConvTransposeOpts = {}): Geo {
  const s = spacing(o);
  const [oph, opw] = pair(o.outputPadding, 0);
  const [n, cin, h, w] = xs, [, cout, kh, kw] = ws;
  const hout = (h - 1) * s.sh - 2 * s.ph + s.dh * (kh - 1) + oph + 1;
  const wout = (w - 1) * s.sw - 2 * s.pw + s.dw * (kw - 1) + opw + 1;
  return { n, cin: cout, h: hout, w: wout, cout: cin, ho: h, wo: w, kh, kw, ...s };
}

export const xShape = (g: Geo): number[] => [g.n, g.cin, g.h, g.w];
export const yShape = (g: Geo): number[] => [g.n, g.cout, g.ho, g.wo];
export const wShape = (g: Geo): number[] => [g.cout, g.cin, g.kh, g.kw];

/** Visit every (image, out channel, in channel, output pixel, tap) whose input pixel is inside x. */
function forEachTap(g: Geo, f: (yi: number, xi: number, wi: number) => void): void {
  for (let n = 0; n < g.n; n++)
    for (let co = 0; co < g.cout; co++)
      for (let ci = 0; ci < g.cin; ci++)
        for (let oh = 0; oh < g.ho; oh++)
          for (let ky = 0; ky < g.kh; ky++) {
            const ih = oh * g.sh - g.ph + ky * g.dh;
            if (ih < 0 || ih >= g.h) continue;
            for (let ow = 0; ow < g.wo; ow++)
              for (let kx = 0; kx < g.kw; kx++) {
                const iw = ow * g.sw - g.pw + kx * g.dw;
                if (iw < 0 || iw >= g.w) continue;
                f(((n * g.cout + co) * g.ho + oh) * g.wo + ow, ((n * g.cin + ci) * g.h + ih) * g.w + iw, ((co * g.cin + ci) * g.kh + ky) * g.kw + kx);
              }
          }
}

/** y = conv(x, w) + bias[co]. */
export function conv(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, g: Geo): Float64Array {
  const y = new Float64Array(g.n * g.cout * g.ho * g.wo);
  forEachTap(g, (yi, xi, wi) => (y[yi] += x[xi] * w[wi]));
  if (bias) addBias(y, bias, g.cout, g.ho * g.wo);
  return y;
}

/** Input gradient of conv (= conv-transpose of u): scatter each y-space value through the kernel. */
export function convData(u: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, g: Geo): Float64Array {
  const x = new Float64Array(g.n * g.cin * g.h * g.w);
  forEachTap(g, (yi, xi, wi) => (x[xi] += u[yi] * w[wi]));
  if (bias) addBias(x, bias, g.cin, g.h * g.w);
  return x;
}

/** Weight gradient of conv: Σ over images and output pixels of u · x. */
export function convFilter(x: ArrayLike<number>, u: ArrayLike<number>, g: Geo): Float64Array {
  const dw = new Float64Array(g.cout * g.cin * g.kh * g.kw);
  forEachTap(g, (yi, xi, wi) => (dw[wi] += u[yi] * x[xi]));
  return dw;
}

function addBias(t: Float64Array, bias: ArrayLike<number>, channels: number, plane: number): void {
  for (let i = 0; i < t.length; i++) t[i] += bias[Math.floor(i / plane) % channels];
}

/** torch.nn.functional.conv2d. */
export function conv2d(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], bias: ArrayLike<number> | null, o: ConvOpts = {}) {
  const g = convGeo(xs, ws, o);
  return { data: conv(x, w, bias, g), shape: yShape(g) };
}

/** torch.nn.functional.conv_transpose2d (w is [cin, cout, kh, kw]). */
export function convTranspose2d(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], bias: ArrayLike<number> | null, o: ConvTransposeOpts = {}) {
  const g = convTransposeGeo(xs, ws, o);
  return { data: convData(x, w, bias, g), shape: xShape(g) };
}

export function leakyRelu(v: ArrayLike<number>, slope: number): Float64Array {
  return Float64Array.from(v, (a) => (a > 0 ? a : slope * a));
}

export function leakySlope(v: ArrayLike<number>, slope: number): Float64Array {
  return Float64Array.from(v, (a) => (a > 0 ? 1 : slope));
}
