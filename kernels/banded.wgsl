// out[r, m] = Σ a[r, k]·w[m, k] over k in band m's [lo, hi): a product with a
// banded right operand (a mel filterbank, whose bands each cover a few dozen
// of 1,025 bins, so a dense product would mostly multiply zeros). One
// invocation per output; a workgroup holds 64 rows of one band, so the band's
// bounds and weights are the same in every lane (loaded once on a CPU driver).
struct Params {
  rows: u32,
  k: u32,
  m: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
// [m, 2]: lo, hi of each band, as f32 (exact below 2^24)
@group(0) @binding(2) var<storage, read> band: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let m = wid.y;
  let lo = u32(band[2u * m]);
  let hi = u32(band[2u * m + 1u]);
  let r = gid.x;
  if (r >= p.rows) { return; }
  var acc = 0.0;
  for (var k = lo; k < hi; k++) {
    acc += a[r * p.k + k] * w[m * p.k + k];
  }
  out[r * p.m + m] = acc;
}
