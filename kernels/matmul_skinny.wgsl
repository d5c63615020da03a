// C = op(A) · op(B) when op(A) has ROWS rows, a few (ops/matmul.ts: at most
// 16): a linear layer on one sample or a few, a classifier head. ROWS is a
// constant put in front of this file (kernels.ts), so each lane holds exactly
// the rows there are. The row-tiled kernels pad M to their 16–32-row tiles, 16–32× the work
// for a single row. A product with few columns and many rows is the same
// product transposed (ops/matmul.ts swaps the operands and the output's
// strides).
// A lane computes every row × 4 columns over one chunk of K (gid.y); with
// more than one chunk, each writes a partial product that ops/matmul.ts sums.
// Any element strides: a transposed operand costs nothing.
struct Params {
  m: u32, n: u32, k: u32,
  // K per chunk
  chunk: u32,
  // element strides of op(A) (row, along K) and op(B) (along K, column)
  a_rs: u32, a_ks: u32,
  b_ks: u32, b_cs: u32,
  // element strides of C: row, column, chunk
  c_rs: u32, c_cs: u32, c_ss: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col0 = gid.x * 4u;
  let s = gid.y;
  if (col0 >= p.n) { return; }
  let k0 = s * p.chunk;
  let k1 = min(p.k, k0 + p.chunk);
  // columns and rows past the end read a valid address; they are not stored
  var bc: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) { bc[j] = min(col0 + j, p.n - 1u) * p.b_cs; }
  var ar: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) { ar[i] = min(i, p.m - 1u) * p.a_rs; }
  var acc: array<vec4<f32>, ROWS>;
  for (var kk = k0; kk < k1; kk++) {
    let bk = kk * p.b_ks;
    let bv = vec4<f32>(b[bc[0] + bk], b[bc[1] + bk], b[bc[2] + bk], b[bc[3] + bk]);
    let ak = kk * p.a_ks;
    for (var i = 0u; i < ROWS; i++) { acc[i] += a[ar[i] + ak] * bv; }
  }
  for (var i = 0u; i < min(ROWS, p.m); i++) {
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col < p.n) { c[s * p.c_ss + i * p.c_rs + col * p.c_cs] = acc[i][j]; }
    }
  }
}
