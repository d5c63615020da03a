// Seeded random fill. A counter-based hash (PCG-style) of (seed, index)
// gives each element its own stream: same seed, same numbers, on any device.
// DIST: 0 uniform [lo, hi), 1 normal(mean = lo, std = hi), 2 bernoulli(keep = lo) scaled by hi,
// 3 the constant lo
override DIST: u32 = 0u;

// base: the index of out[0] in the whole tensor, for a tensor filled in
// ranges (past the storage binding limit): every element keeps its stream.
struct Params { n: u32, seed: u32, lo: f32, hi: f32, base: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// uniform in (0, 1): 24 random bits, never exactly 0
fn unit(h: u32) -> f32 { return (f32(h >> 8u) + 0.5) / 16777216.0; }

fn item(i: u32) {
  // hash the seed and the index together in two rounds: streams of different
  // seeds are not shifted copies of each other
  let h1 = pcg(pcg(p.base + i + pcg(p.seed)) ^ p.seed);
  let u1 = unit(h1);
  switch DIST {
    case 0u: { out[i] = p.lo + (p.hi - p.lo) * u1; }
    case 1u: {
      let u2 = unit(pcg(h1 ^ 0x9e3779b9u));
      out[i] = p.lo + p.hi * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    }
    case 2u: { out[i] = select(0.0, p.hi, u1 < p.lo); }
    default: { out[i] = p.lo; }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { item(i); }
}
