// Shared by conv2d.wgsl and conv2d_subgroup.wgsl (kernels.ts puts it in
// front of each): the parameters, bindings and geometry helpers.
//
// Geometry: "x-space" is [n, c_in, h, w], "y-space" is [n, c_out, ho, wo];
// output pixel (oh, ow) reads input rows oh*sh - pad_h + ky*dh and columns
// ow*sw - pad_w + kx*dw.
struct Params {
  n: i32, c_in: i32, h: i32, w: i32,
  c_out: i32, ho: i32, wo: i32, kh: i32,
  kw: i32, sh: i32, sw: i32, pad_h: i32,
  pad_w: i32, dh: i32, dw: i32, has_bias: i32,
  // data only: sh / gcd(sh, dh) and sw / gcd(sw, dw)
  ky_step: i32, kx_step: i32,
  // fwd_rows only: where output pixel (oh, ow) of channel c, image nn goes
  // in dst: nn·y_image + c·y_plane + y_off + oh·y_row + ow·y_col (a dense
  // y-space for a forward; one stride phase of x-space for an input gradient)
  y_image: i32, y_plane: i32, y_row: i32, y_col: i32, y_off: i32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: i32 = 64;
override BLOCK: i32 = 8;

fn in_range(v: vec4<i32>, hi: i32) -> vec4<bool> {
  return (v >= vec4<i32>(0)) & (v < vec4<i32>(hi));
}

fn clamp4(first: i32, last: i32) -> vec4<i32> {
  return min(vec4<i32>(first) + vec4<i32>(0, 1, 2, 3), vec4<i32>(last));
}

// fwd: an invocation's 4 output pixels (WG apart from `first`, batch
// included): where their windows start in x, their image's offset in x and
// their own offset in y. Pixels past the last are clamped to it: they are
// read, never stored.
struct FwdPixels { ih0: vec4<i32>, iw0: vec4<i32>, xb: vec4<i32>, ob: vec4<i32> }

fn fwd_pixels(first: i32) -> FwdPixels {
  let plane_o = p.ho * p.wo;
  let total = p.n * plane_o;
  var q: FwdPixels;
  for (var j = 0; j < 4; j++) {
    let m = min(first + j * WG, total - 1);
    let nn = m / plane_o;
    let r = m - nn * plane_o;
    let oh = r / p.wo;
    let ow = r - oh * p.wo;
    q.ih0[j] = oh * p.sh - p.pad_h;
    q.iw0[j] = ow * p.sw - p.pad_w;
    q.xb[j] = nn * p.c_in * p.h * p.w;
    q.ob[j] = nn * p.c_out * plane_o + r;
  }
  return q;
}

// data: workgroup z is (stride phase, block of BLOCK input channels). The
// phase (qh, qw) holds the x-space pixels at rows qh + sh·a, columns
// qw + sw·b: gw columns, sub per image, total in the batch. Kept apart from
// the per-invocation part below so that it stays uniform (the subgroup
// kernel's loops over it must be).
struct DataPhase { ci0: i32, qh: i32, qw: i32, gw: i32, sub: i32, total: i32 }

fn data_phase(z: i32) -> DataPhase {
  let ci_blocks = (p.c_in + BLOCK - 1) / BLOCK;
  let phase = z / ci_blocks;
  let qh = phase / p.sw;
  let qw = phase - qh * p.sw;
  let gw = (p.w - qw + p.sw - 1) / p.sw;
  let sub = ((p.h - qh + p.sh - 1) / p.sh) * gw;
  return DataPhase((z - phase * ci_blocks) * BLOCK, qh, qw, gw, sub, p.n * sub);
}

// An invocation's 4 pixels of the phase: a, b, the image's offset in y and
// the pixel's own offset in x, clamped as fwd_pixels; a phase with no pixels
// (h < sh) gets offsets that are never used.
struct DataPixels { a: vec4<i32>, b: vec4<i32>, gb: vec4<i32>, ob: vec4<i32> }

fn data_pixels(ph: DataPhase, first: i32) -> DataPixels {
  var q: DataPixels;
  for (var j = 0; j < 4; j++) {
    let m = max(min(first + j * WG, ph.total - 1), 0);
    let nn = m / max(ph.sub, 1);
    let r = m - nn * ph.sub;
    q.a[j] = r / max(ph.gw, 1);
    q.b[j] = r - q.a[j] * ph.gw;
    q.gb[j] = nn * p.c_out * p.ho * p.wo;
    q.ob[j] = nn * p.c_in * p.h * p.w + (ph.qh + p.sh * q.a[j]) * p.w + ph.qw + p.sw * q.b[j];
  }
  return q;
}

// First k in [0, step) with k·d ≡ c (mod s); the live ones repeat every step
// (= s / gcd(s, d)). None there means none at all: returns `none`.
fn first_live(c: i32, d: i32, s: i32, step: i32, none: i32) -> i32 {
  for (var k = 0; k < step; k++) {
    if ((((c - k * d) % s) + s) % s == 0) { return k; }
  }
  return none;
}
