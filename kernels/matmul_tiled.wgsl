// Parameters and bindings: matmul_common.wgsl (kernels.ts puts it in front).
// Batched C = A·B (+ bias) with 64×64 output tiles staged through workgroup
// memory, each of the 16×16 invocations computing a 4×4 register block.
// This is the variant GPUs want; CPU drivers pay for the barriers (see
// matmul.wgsl). Same bindings and uniforms as matmul.wgsl, so the two are
// interchangeable and a benchmark at start-up picks one per adapter.
const TM = 64u;
const TN = 64u;
const TK = 16u;

var<workgroup> sa: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> sb: array<array<f32, 64>, 16>; // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bz = wid.z;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  let tid = lid.y * 16u + lid.x;
  let a_base = bz * p.a_bs;
  let b_base = bz * p.b_bs;
  var acc: array<vec4<f32>, 4>;
  let tiles = (p.k + TK - 1u) / TK;
  for (var t = 0u; t < tiles; t++) {
    let k0 = t * TK;
    // 256 invocations load 64×16 elements of each operand: 4 apiece.
    for (var e = 0u; e < 4u; e++) {
      let idx = tid + e * 256u;
      let kk = idx / 64u;
      let mm = idx % 64u;
      let gk = k0 + kk;
      let gm = m0 + mm;
      var av = 0.0;
      if (gk < p.k && gm < p.m) { av = a[a_base + gm * p.a_rs + gk * p.a_cs]; }
      sa[kk][mm] = av;
      let gn = n0 + mm;
      var bv = 0.0;
      if (gk < p.k && gn < p.n) { bv = b[b_base + gk * p.b_rs + gn * p.b_cs]; }
      sb[kk][mm] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let av = vec4<f32>(sa[kk][lid.y * 4u], sa[kk][lid.y * 4u + 1u], sa[kk][lid.y * 4u + 2u], sa[kk][lid.y * 4u + 3u]);
      let bv = vec4<f32>(sb[kk][lid.x * 4u], sb[kk][lid.x * 4u + 1u], sb[kk][lid.x * 4u + 2u], sb[kk][lid.x * 4u + 3u]);
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  if (bz >= p.batch) { return; }
  for (var i = 0u; i < 4u; i++) {
    let r = m0 + lid.y * 4u + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = n0 + lid.x * 4u + j;
      if (col >= p.n) { break; }
      var v = acc[i][j];
      if (p.has_bias == 1u) { v += bias[col]; }
      c[bz * p.c_bs + r * p.n + col] = v;
    }
  }
}
