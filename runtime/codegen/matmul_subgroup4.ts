// WGSL of the `subgroup4` and `subgroup8` matmul kernels, written out by
// code: 32 rows of accumulators in plain variables. The same kernel as loops
// over private arrays ran 3× slower on lavapipe, whose compiler unrolls loops
// of 16 short iterations but not these, and then keeps the arrays in memory.
//
// Contract: matmul_common.wgsl (prepended by kernels.ts). Both operands are
// read as vec4s, so ops/matmul.ts sends only row-major operands (a_cs = b_cs =
// 1) with K and N multiples of 4 (then every row, batch and split-K stride is
// too) and no bias; any other product runs `subgroup`.
//
// Why: on lavapipe a load whose address differs per lane is a loop over the
// 8 SIMD lanes with a branch and a bounds check each, and a vec4 load is one
// such loop for four floats. As in matmul_subgroup.wgsl, each group of 8
// lanes shares A through subgroupBroadcast, here four k at a time: lane L
// loads A[r, k0+4L .. k0+4L+3] for the workgroup's 32 rows, and every lane
// multiplies them into its own 4 columns of B. A workgroup of 64 lanes
// computes 32 rows × 256 columns; per 32 k-steps a lane makes 32 + 32 vec4
// loads for 4,096 multiply-adds (matmul_subgroup.wgsl: 32 scalar loads for 256).
// `subgroup8` gives each lane a second vec4 of columns, 64 vec4s further
// (neighbouring lanes still read neighbouring addresses): 32 + 64 loads for
// 8,192 multiply-adds, 32 rows × 512 columns per workgroup. On lavapipe
// 1.09–1.19× faster than subgroup4 at 1024³ (interleaved, same process) and
// the same at 512³, where it has half the workgroups.

/** Rows per workgroup (ops/matmul.ts sizes the grid with it), and columns
 * per vec4 of columns each lane takes. */
export const SUBGROUP4_TILE: [number, number] = [32, 256];

/** `vecs` vec4s of columns per lane, 64 vec4s apart: 1 for `subgroup4`, 2 for
 * `subgroup8` (twice the FMAs per A load, and per B load the same). */
export function matmulSubgroup4Source(vecs = 1): string {
  const R = SUBGROUP4_TILE[0];
  const rows = Array.from({ length: R }, (_, i) => i);
  const cs = Array.from({ length: vecs }, (_, j) => j);
  const out: string[] = [];
  out.push(`@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;

// B row k at the lane's 4 columns (b_at), zero from K on: A is zero there
// too, but a clamped row of B could hold an inf.
fn load_b(b_at: u32, k: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), b[b_at + min(k, p.k - 1u) * (p.b_rs / 4u)], k < p.k);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) sl: u32) {
  let bz = wid.z;
  let row0 = wid.y * ${R}u;
  let n4 = p.n / 4u;
  let col4 = wid.x * ${64 * vecs}u + li;
  // Out-of-range rows and columns read a valid address and are never stored.
${cs.map((j) => `  let b_at${j} = (bz * p.b_bs) / 4u + min(col4 + ${64 * j}u, n4 - 1u);`).join('\n')}
  let a_at = (bz * p.a_bs) / 4u;
  let lane = sl % 8u;`);
  for (const i of rows) out.push(`  let ar${i} = a_at + min(row0 + ${i}u, p.m - 1u) * (p.a_rs / 4u);`);
  for (const i of rows) for (const j of cs) out.push(`  var c${i}_${j} = vec4<f32>(0.0);`);
  out.push(`  for (var k0 = 0u; k0 < p.k; k0 += 32u) {
    let k = k0 + 4u * lane;
    let kc = min(k, p.k - 4u) / 4u;
    let live = k < p.k;`);
  for (const i of rows) out.push(`    let a${i} = select(vec4<f32>(0.0), a[ar${i} + kc], live);`);
  for (let L = 0; L < 8; L++) {
    out.push(`    {`);
    for (const j of cs) for (let q = 0; q < 4; q++) out.push(`      let b${q}_${j} = load_b(b_at${j}, k0 + ${4 * L + q}u);`);
    for (const i of rows) {
      const fmas = cs.map((j) => `c${i}_${j} = fma(vec4<f32>(s.w), b3_${j}, fma(vec4<f32>(s.z), b2_${j}, fma(vec4<f32>(s.y), b1_${j}, fma(vec4<f32>(s.x), b0_${j}, c${i}_${j}))));`);
      out.push(`      { let s = subgroupBroadcast(a${i}, ${L}u); ${fmas.join(' ')} }`);
    }
    out.push(`    }`);
  }
  out.push(`  }
  if (bz >= p.batch) { return; }`);
  for (const j of cs) {
    out.push(`  if (col4 + ${64 * j}u < n4) {
    let o0 = bz * p.c_bs + row0 * p.n + 4u * (col4 + ${64 * j}u);`);
    for (const i of rows) {
      out.push(`    if (row0 + ${i}u < p.m) { let o = o0 + ${i}u * p.n; c[o] = c${i}_${j}.x; c[o + 1u] = c${i}_${j}.y; c[o + 2u] = c${i}_${j}.z; c[o + 3u] = c${i}_${j}.w; }`);
    }
    out.push('  }');
  }
  out.push('}');
  return out.join('\n') + '\n';
}
