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

// First k in [0, step) with k·d ≡ c (mod s); the live ones repeat every step
// (= s / gcd(s, d)). None there means none at all: returns `none`.
fn first_live(c: i32, d: i32, s: i32, step: i32, none: i32) -> i32 {
  for (var k = 0; k < step; k++) {
    if ((((c - k * d) % s) + s) % s == 0) { return k; }
  }
  return none;
}
