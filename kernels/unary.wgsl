// out = f(x; alpha, beta). OP is a pipeline constant.
// 0 neg, 1 exp, 2 log, 3 sqrt, 4 tanh, 5 sigmoid, 6 relu, 7 leaky-relu(alpha),
// 8 abs, 9 sign, 10 square, 11 reciprocal, 12 leaky-relu slope (1 or alpha),
// 13 step (x > 0), 14 affine alpha*x + beta, 15 pow(x, alpha), 16 sin, 17 cos,
// 18 rsqrt, 20 floor, 21 round
override OP: u32 = 0u;

struct Params { n: u32, alpha: f32, beta: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// A quiet NaN the compiler cannot fold (constant NaN is a WGSL error).
fn nan() -> f32 { return bitcast<f32>(0x7fc00000u + min(p.n, 0u)); }

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: {
      // tanh via exp of a negative argument: no overflow for large |v|
      let e = exp(-2.0 * abs(v));
      return sign(v) * (1.0 - e) / (1.0 + e);
    }
    case 5u: {
      let e = exp(-abs(v));
      return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
    }
    case 6u: { return select(v, 0.0, v < 0.0); }
    case 7u: { return select(v, v * p.alpha, v < 0.0); }
    case 8u: { return abs(v); }
    case 9u: { return sign(v); }
    case 10u: { return v * v; }
    case 11u: { return 1.0 / v; }
    case 12u: { return select(1.0, p.alpha, v <= 0.0); }
    case 13u: { return select(0.0, 1.0, v > 0.0); }
    case 14u: { return p.alpha * v + p.beta; }
    case 15u: {
      let r = pow(abs(v), p.alpha);
      if (v < 0.0 && p.alpha == round(p.alpha)) { return select(r, -r, abs(p.alpha % 2.0) == 1.0); }
      if (v == 0.0 && p.alpha == 0.0) { return 1.0; }
      return select(r, nan(), v < 0.0);
    }
    case 16u: { return sin(v); }
    case 17u: { return cos(v); }
    case 18u: { return inverseSqrt(v); }
    case 20u: { return floor(v); }
    case 21u: { return round(v); }
    default: { return 0.0; }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { out[i] = apply(x[i]); }
}

// main4: the same on vec4s, for a length (and range) of a multiple of 4:
// on a CPU driver each load or store is a loop over the lanes, and one such
// loop for four values is what pays. n still counts floats.
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the vec4s: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n / 4u; i += nwg.x * nwg.y * 64u) {
    let v = x4[i];
    out4[i] = vec4<f32>(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
  }
}
