// Parameters and bindings: matmul_common.wgsl (kernels.ts puts it in front).
// Batched C[b] = A[b] · B[b] (+ bias), A: M×K, B: K×N, any strides, so a
// transposed operand costs nothing. Each invocation computes a 4×4 register
// block with no workgroup memory: on CPU Vulkan drivers barriers cost more
// than the reloads they save (a shared-memory variant is picked per adapter).
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let bz = gid.z;
  if (row0 >= p.m || col0 >= p.n || bz >= p.batch) { return; }
  var acc: array<vec4<f32>, 4>;
  // Clamp out-of-range rows/cols to a valid address; their results are not stored.
  var ar: array<u32, 4>;
  var bc: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    ar[i] = bz * p.a_bs + min(row0 + i, p.m - 1u) * p.a_rs;
    bc[i] = bz * p.b_bs + min(col0 + i, p.n - 1u) * p.b_cs;
  }
  for (var kk = 0u; kk < p.k; kk++) {
    let ak = kk * p.a_cs;
    let bk = kk * p.b_rs;
    let av = vec4<f32>(a[ar[0] + ak], a[ar[1] + ak], a[ar[2] + ak], a[ar[3] + ak]);
    let bv = vec4<f32>(b[bc[0] + bk], b[bc[1] + bk], b[bc[2] + bk], b[bc[3] + bk]);
    acc[0] += av.x * bv;
    acc[1] += av.y * bv;
    acc[2] += av.z * bv;
    acc[3] += av.w * bv;
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col >= p.n) { break; }
      var v = acc[i][j];
      if (p.has_bias == 1u) { v += bias[col]; }
      c[bz * p.c_bs + r * p.n + col] = v;
    }
  }
}
