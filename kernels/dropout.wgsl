// Dropout with an in-shader counter-based RNG: element i is kept when
// hash(seed, i) falls below keep, so the mask is a pure function of (seed, i)
// and the backward pass regenerates it instead of storing it.
struct Params { n: u32, seed: u32, keep: f32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// PCG output permutation: a well-mixed bijection of u32.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Two rounds, the seed entering between them: different seeds give unrelated
// masks at the same index (a single xor would only permute one mask).
fn uniform01(seed: u32, i: u32) -> f32 {
  let h = pcg(pcg(i) ^ pcg(seed ^ 0x85ebca6bu));
  // 24 random bits, centred in their bucket: (0, 1)
  return (f32(h >> 8u) + 0.5) / 16777216.0;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { out[i] = select(0.0, x[i] * p.scale, uniform01(p.seed, i) < p.keep); }
}
