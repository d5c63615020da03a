// Rational resampling by a polyphase FIR (resample_poly's sum):
//   out[m] = Σ_j x[n0 − j]·bank[phase, j],  c = m·down + offset,
//   phase = c mod up, n0 = ⌊c / up⌋, x zero outside [0, n_in).
// bank row `phase` holds the filter's taps h[phase], h[phase + up], … (zero
// past its end). Each lane finds its bounds first, so the tap loop carries
// no per-sample test. Lanes stride over the outputs: see gridStride (engine.ts).
struct Params {
  n_in: u32,
  n_out: u32,
  up: u32,
  down: u32,
  offset: u32,
  taps: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bank: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Σ_j x[n0 − j]·bank[base + j] over the taps that meet x
fn fir(n0: u32, base: u32) -> f32 {
  let lo = select(0u, n0 + 1u - p.n_in, n0 >= p.n_in); // j ≥ n0 − n_in + 1
  let hi = min(p.taps, n0 + 1u); // j ≤ n0
  var acc = 0.0;
  for (var j = lo; j < hi; j++) {
    acc += x[n0 - j] * bank[base + j];
  }
  return acc;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var m = gid.x + gid.y * nwg.x * 64u; m < p.n_out; m += nwg.x * nwg.y * 64u) {
    // m = a·up + b keeps m·down (past 2^32 for long clips) out of the arithmetic
    let a = m / p.up;
    let r = (m - a * p.up) * p.down + p.offset;
    let q = r / p.up;
    out[m] = fir(a * p.down + q, (r - q * p.up) * p.taps);
  }
}

// single: up = 1, one phase: every lane reads the same tap at once (a CPU
// driver loads it once for all lanes)
@compute @workgroup_size(64)
fn single(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var m = gid.x + gid.y * nwg.x * 64u; m < p.n_out; m += nwg.x * nwg.y * 64u) {
    out[m] = fir(m * p.down + p.offset, 0u);
  }
}
