// Parameters and bindings: matmul_common.wgsl (kernels.ts puts it in front).
// Batched C[b] = A[b] · B[b] (+ bias), the same contract as matmul.wgsl, for
// adapters with subgroups of at least 8 lanes.
//
// Why: lavapipe turns every storage load whose address is not a compile-time
// uniform into a loop over the 8 SIMD lanes (bounds check and branch per lane),
// so loads, not FMAs, set the speed, and a load that every lane makes alike
// costs as much as eight different ones. Here each group of 8 lanes loads
// A[r, k0..k0+7] once, one k per lane, and hands each value to all lanes with
// subgroupBroadcast (a register shuffle); only B, different for every lane,
// is loaded per lane. A workgroup of 64 lanes computes 16 rows × 128 columns,
// each lane 16 rows × 2 columns (8 apart, so neighbouring lanes read
// neighbouring addresses): 32 loads feed 256 FMAs per 8 k-steps, against
// 8 loads for 16 FMAs in matmul.wgsl.
//
// The 8 k-steps are written out: subgroupBroadcast takes a constant lane.

const ROWS: u32 = 16u;

var<private> acc: array<vec2<f32>, 16>;
var<private> av: array<f32, 16>;
var<private> bcol: vec2<u32>;
var<private> bz: u32;

// B[k, the lane's two columns], zero past K (A is zero there too, but B's
// clamped row could hold an inf).
fn load_b(k: u32) -> vec2<f32> {
  let kc = min(k, p.k - 1u);
  let base = bz * p.b_bs + kc * p.b_rs;
  let v = vec2<f32>(b[base + bcol.x], b[base + bcol.y]);
  return select(vec2<f32>(0.0), v, k < p.k);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  bz = wid.z;
  let row0 = wid.y * ROWS;
  let col0 = wid.x * 128u + (li / 8u) * 16u + (li % 8u);
  // Out-of-range rows and columns read a valid address and are never stored.
  bcol = vec2<u32>(min(col0, p.n - 1u), min(col0 + 8u, p.n - 1u)) * p.b_cs;
  let lane = sl % 8u;
  for (var k0 = 0u; k0 < p.k; k0 += 8u) {
    let k = k0 + lane;
    let kc = min(k, p.k - 1u) * p.a_cs;
    for (var i = 0u; i < ROWS; i++) {
      let r = min(row0 + i, p.m - 1u);
      av[i] = select(0.0, a[bz * p.a_bs + r * p.a_rs + kc], k < p.k);
    }
    var bv = load_b(k0);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 0u)), bv, acc[i]); }
    bv = load_b(k0 + 1u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 1u)), bv, acc[i]); }
    bv = load_b(k0 + 2u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 2u)), bv, acc[i]); }
    bv = load_b(k0 + 3u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 3u)), bv, acc[i]); }
    bv = load_b(k0 + 4u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 4u)), bv, acc[i]); }
    bv = load_b(k0 + 5u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 5u)), bv, acc[i]); }
    bv = load_b(k0 + 6u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 6u)), bv, acc[i]); }
    bv = load_b(k0 + 7u);
    for (var i = 0u; i < ROWS; i++) { acc[i] = fma(vec2<f32>(subgroupBroadcast(av[i], 7u)), bv, acc[i]); }
  }
  if (bz >= p.batch) { return; }
  for (var i = 0u; i < ROWS; i++) {
    let r = row0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 2u; j++) {
      let col = col0 + j * 8u;
      if (col >= p.n) { continue; }
      var v = acc[i][j];
      if (p.has_bias == 1u) { v += bias[col]; }
      c[bz * p.c_bs + r * p.n + col] = v;
    }
  }
}
