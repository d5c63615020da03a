// Parameters and bindings: matmul_common.wgsl (kernels.ts puts it in front).
// Batched C = A·B (+ bias), same contract as matmul.wgsl, for big products
// on GPUs: 128×128 output tiles staged through workgroup memory 8 k-steps
// at a time, each of the 16×16 invocations computing an 8×8 register block
// (64 FMAs per 16 workgroup-memory reads, against 16 per 8 in
// matmul_tiled.wgsl). An invocation's rows are 4 + 4 sixty-four apart, and
// likewise its columns, so a warp's reads of one k-row spread over the banks.
// Tiles are loaded along whichever of each operand's axes is contiguous, so
// transposed operands read coalesced too.
const T: u32 = 128u;
const TK: u32 = 8u;
// Rows padded to 132: a store of 8 k-values of one row then hits 8 banks, not
// one, and 132 keeps each group of 4 aligned for 16-byte reads.
var<workgroup> sa: array<array<f32, 132>, 8>; // [k][m]
var<workgroup> sb: array<array<f32, 132>, 8>; // [k][n]

fn load_a(base: u32, m0: u32, k0: u32, tid: u32) {
  for (var e = 0u; e < 4u; e++) {
    let idx = tid + e * 256u;
    // k contiguous in memory: neighbouring invocations take neighbouring k
    var kk = idx % TK;
    var mm = idx / TK;
    if (p.a_cs != 1u) {
      mm = idx % T;
      kk = idx / T;
    }
    let gm = m0 + mm;
    let gk = k0 + kk;
    var v = 0.0;
    if (gm < p.m && gk < p.k) { v = a[base + gm * p.a_rs + gk * p.a_cs]; }
    sa[kk][mm] = v;
  }
}

fn load_b(base: u32, n0: u32, k0: u32, tid: u32) {
  for (var e = 0u; e < 4u; e++) {
    let idx = tid + e * 256u;
    var nn = idx % T;
    var kk = idx / T;
    if (p.b_cs != 1u) {
      kk = idx % TK;
      nn = idx / TK;
    }
    let gn = n0 + nn;
    let gk = k0 + kk;
    var v = 0.0;
    if (gn < p.n && gk < p.k) { v = b[base + gk * p.b_rs + gn * p.b_cs]; }
    sb[kk][nn] = v;
  }
}

fn a4(kk: u32, at: u32) -> vec4<f32> {
  return vec4<f32>(sa[kk][at], sa[kk][at + 1u], sa[kk][at + 2u], sa[kk][at + 3u]);
}

fn b4(kk: u32, at: u32) -> vec4<f32> {
  return vec4<f32>(sb[kk][at], sb[kk][at + 1u], sb[kk][at + 2u], sb[kk][at + 3u]);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bz = wid.z;
  let m0 = wid.y * T;
  let n0 = wid.x * T;
  let tid = lid.y * 16u + lid.x;
  // acc[2·i + h]: row i of the block (0..3: ty·4 + i, 4..7: 64 + ty·4 + i − 4),
  // columns tx·4 .. +3 (h = 0) or 64 + tx·4 .. +3 (h = 1)
  var acc: array<vec4<f32>, 16>;
  let ra = lid.y * 4u;
  let cb = lid.x * 4u;
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    load_a(bz * p.a_bs, m0, k0, tid);
    load_b(bz * p.b_bs, n0, k0, tid);
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a0 = a4(kk, ra);
      let a1 = a4(kk, ra + 64u);
      let b0 = b4(kk, cb);
      let b1 = b4(kk, cb + 64u);
      for (var i = 0u; i < 4u; i++) {
        acc[2u * i] = fma(vec4<f32>(a0[i]), b0, acc[2u * i]);
        acc[2u * i + 1u] = fma(vec4<f32>(a0[i]), b1, acc[2u * i + 1u]);
        acc[8u + 2u * i] = fma(vec4<f32>(a1[i]), b0, acc[8u + 2u * i]);
        acc[8u + 2u * i + 1u] = fma(vec4<f32>(a1[i]), b1, acc[8u + 2u * i + 1u]);
      }
    }
    workgroupBarrier();
  }
  if (bz >= p.batch) { return; }
  for (var i = 0u; i < 8u; i++) {
    let r = m0 + select(ra + i, 64u + ra + i - 4u, i >= 4u);
    if (r >= p.m) { continue; }
    for (var h = 0u; h < 2u; h++) {
      for (var j = 0u; j < 4u; j++) {
        let col = n0 + cb + 64u * h + j;
        if (col >= p.n) { continue; }
        var v = acc[2u * i + h][j];
        if (p.has_bias == 1u) { v += bias[col]; }
        c[bz * p.c_bs + r * p.n + col] = v;
      }
    }
  }
}
