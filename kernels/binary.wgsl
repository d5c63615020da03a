// out = a OP b, with numpy broadcasting. OP is a pipeline constant, so each
// operator compiles to its own straight-line shader.
// 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 maximum, 6 minimum, 7 greater (1/0),
// 8 equal (1/0), 9 greater-or-equal (1/0)
override OP: u32 = 0u;

struct Params {
  n: u32,
  rank: u32,
  // row-major output shape and each input's stride per output dim (0 = broadcast)
  out_shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// A quiet NaN the compiler cannot fold (constant NaN is a WGSL error).
fn nan() -> f32 { return bitcast<f32>(0x7fc00000u + min(p.n, 0u)); }

// Bit test, not x != x: the driver's compiler may assume no NaNs and fold that away.
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: {
      // pow of a negative base is defined for integer exponents
      let r = pow(abs(x), y);
      if (x < 0.0 && y == round(y)) {
        if (abs(y % 2.0) == 1.0) { return -r; }
        return r;
      }
      if (x == 0.0 && y == 0.0) { return 1.0; }
      return select(r, nan(), x < 0.0);
    }
    case 5u: { return select(max(x, y), x + y, is_nan(x) || is_nan(y)); }
    case 6u: { return select(min(x, y), x + y, is_nan(x) || is_nan(y)); }
    case 7u: { return select(0.0, 1.0, x > y); }
    case 8u: { return select(0.0, 1.0, x == y); }
    case 9u: { return select(0.0, 1.0, x >= y); }
    default: { return 0.0; }
  }
}

fn dim(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

fn item(i: u32) {
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  // One division per axis but the first, whose coordinate is what remains
  // (i < n bounds it): a CPU driver divides lane by lane.
  for (var k = p.rank; k > 1u; k--) {
    let d = k - 1u;
    let s = dim(p.out_shape, d);
    let q = rem / s;
    let c = rem - q * s;
    rem = q;
    ia += c * dim(p.a_strides, d);
    ib += c * dim(p.b_strides, d);
  }
  if (p.rank > 0u) {
    ia += rem * dim(p.a_strides, 0u);
    ib += rem * dim(p.b_strides, 0u);
  }
  out[i] = apply(a[ia], b[ib]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { item(i); }
}

// Rank 2 on a 2-D grid: x runs along a row, y (folded into z past the grid
// limit) strides over rows (gridStride2d, engine.ts), so no index is divided
// (STFT framing, per-row scales).
@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x;
  let cols = p.out_shape[0].y;
  if (j >= cols) { return; }
  for (var r = gid.y + gid.z * nwg.y; r < p.out_shape[0].x; r += nwg.y * nwg.z) {
    let ia = r * p.a_strides[0].x + j * p.a_strides[0].y;
    let ib = r * p.b_strides[0].x + j * p.b_strides[0].y;
    out[r * cols + j] = apply(a[ia], b[ib]);
  }
}

// Same shapes, no index arithmetic.
@compute @workgroup_size(64)
fn same(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { out[i] = apply(a[i], b[i]); }
}

// same4: `same` on vec4s, for a length (and range) of a multiple of 4: on a
// CPU driver each load or store is a loop over the lanes, and one such loop
// for four values is what pays. n still counts floats.
@group(0) @binding(4) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn same4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the vec4s: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n / 4u; i += nwg.x * nwg.y * 64u) {
    let u = a4[i];
    let v = b4[i];
    out4[i] = vec4<f32>(apply(u.x, v.x), apply(u.y, v.y), apply(u.z, v.z), apply(u.w, v.w));
  }
}
