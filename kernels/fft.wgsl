// Batched Stockham FFT (autosort: no bit reversal), radix-4 passes and one
// final radix-2 pass when log2(n) is odd. Complex values are vec2 (re, im).
// Twiddles come from a table tw[t] = exp(-2πi t/L) computed on the host in
// f64; the pass for sub-transform length p reads w^(j·k) with w = e^(-2πi/(4p)).
//
// Two ways to run the passes (runtime/ops/fft.ts picks per size):
//  *_wg    one workgroup per frame, the frame ping-ponged in workgroup memory,
//          all passes in one dispatch (used while 2n complex values fit);
//  pass4/pass2 (+ rpost/ipre)  one dispatch per pass over global memory,
//          one butterfly per invocation, any size.
// The workgroup kernels won for the STFT case on both lavapipe and a real GPU
// (numbers in runtime/ops/fft.ts): one pass over DRAM instead of six, and a
// barrier per pass costs less than a dispatch per pass.
//
// Real transforms of N = 2m samples run an m-point complex FFT of the samples
// packed as z[n] = x[2n] + i·x[2n+1] and untangle the halves with W_N^k
// (rfft), or tangle the half spectrum first (irfft).

struct Params {
  n: u32,        // complex points per frame (m for the real transforms)
  log2n: u32,
  frames: u32,
  tw_shift: u32, // table index = t << tw_shift (real transforms use the table of 2n)
  lp: u32,       // global passes: log2 of the current sub-transform length p
  dir: f32,      // 1 forward, -1 inverse (conjugate twiddles)
  scale: f32,    // applied to every output
  weight: f32,   // real transforms: extra factor on bins 1 .. m-1 (backward rules)
}

@group(0) @binding(0) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> tw: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> power: array<f32>;

// Workgroup kernels: invocations per frame, and workgroup slots (2n: ping-pong).
override WG: u32 = 64u;
override SH: u32 = 2u;
var<workgroup> sh: array<vec2<f32>, SH>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
fn conj(a: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x, -a.y); }
fn twid(t: u32) -> vec2<f32> {
  let w = tw[t << p.tw_shift];
  return vec2<f32>(w.x, w.y * p.dir);
}
// × (-i) forward, × (+i) inverse
fn rot(a: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.y, -a.x) * p.dir; }

struct Quad { y0: vec2<f32>, y1: vec2<f32>, y2: vec2<f32>, y3: vec2<f32> }

// Twiddle the inputs for output index k of the sub-transform (table step
// 1 << s), then a 4-point DFT.
fn bfly4(a0: vec2<f32>, b1: vec2<f32>, b2: vec2<f32>, b3: vec2<f32>, k: u32, s: u32) -> Quad {
  var a1 = b1;
  var a2 = b2;
  var a3 = b3;
  if (k != 0u) {
    a1 = cmul(a1, twid(k << s));
    a2 = cmul(a2, twid((2u * k) << s));
    a3 = cmul(a3, twid((3u * k) << s));
  }
  let t0 = a0 + a2;
  let t1 = a0 - a2;
  let t2 = a1 + a3;
  let t3 = rot(a1 - a3);
  return Quad(t0 + t2, t1 + t3, t0 - t2, t1 - t3);
}

// rfft: bin k (0..m) of the real transform from the packed spectrum Z.
fn untangle(zk: vec2<f32>, zmk: vec2<f32>, k: u32, m: u32) -> vec2<f32> {
  let zc = conj(zmk);
  let even = (zk + zc) * 0.5;
  let d = zk - zc;
  let odd = vec2<f32>(d.y, -d.x) * 0.5; // d / 2i
  var v = even + cmul(tw[k], odd);
  if (k == 0u || k == m) {
    v.y = 0.0; // exactly real; W_N^m is -1 only to f32 rounding
    return v * p.scale;
  }
  return v * (p.scale * p.weight);
}

// irfft: packed bin k (0..m-1) from half-spectrum bins k and m-k; the
// imaginary parts of DC and Nyquist are ignored (numpy's c2r convention).
fn tangle(xk0: vec2<f32>, xm0: vec2<f32>, k: u32) -> vec2<f32> {
  var xk = xk0;
  var xm = xm0;
  if (k == 0u) {
    xk.y = 0.0;
    xm.y = 0.0;
  } else {
    xk *= p.weight;
    xm *= p.weight;
  }
  let even = xk + conj(xm);
  let odd = cmul(xk - conj(xm), conj(tw[k]));
  return even + vec2<f32>(-odd.y, odd.x); // even + i·odd
}

// ---- one workgroup per frame ------------------------------------------------

fn stage4_wg(src: u32, dst: u32, lp: u32, lid: u32) {
  let q = p.n >> 2u;
  let pp = 1u << lp;
  let s = p.log2n - lp - 2u;
  for (var i = lid; i < q; i += WG) {
    let k = i & (pp - 1u);
    let r = bfly4(sh[src + i], sh[src + i + q], sh[src + i + 2u * q], sh[src + i + 3u * q], k, s);
    let j = dst + ((i - k) << 2u) + k;
    sh[j] = r.y0;
    sh[j + pp] = r.y1;
    sh[j + 2u * pp] = r.y2;
    sh[j + 3u * pp] = r.y3;
  }
}

fn stage2_wg(src: u32, dst: u32, lp: u32, lid: u32) {
  let h = p.n >> 1u;
  let pp = 1u << lp;
  for (var i = lid; i < h; i += WG) {
    let k = i & (pp - 1u);
    let a = sh[src + i];
    let b = cmul(sh[src + i + h], twid(k));
    let j = dst + ((i - k) << 1u) + k;
    sh[j] = a + b;
    sh[j + pp] = a - b;
  }
}

// All passes over sh[0..n) (ping-pong with sh[n..2n)); returns where the result lies.
fn passes_wg(lid: u32) -> u32 {
  var src = 0u;
  var dst = p.n;
  var lp = 0u;
  loop {
    if (lp + 2u > p.log2n) { break; }
    stage4_wg(src, dst, lp, lid);
    workgroupBarrier();
    let t = src;
    src = dst;
    dst = t;
    lp += 2u;
  }
  if (lp < p.log2n) {
    stage2_wg(src, dst, lp, lid);
    workgroupBarrier();
    src = dst;
  }
  return src;
}

@compute @workgroup_size(WG)
fn cfft_wg(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let frame = wid.x + wid.y * nwg.x; // uniform per workgroup: barriers below stay legal
  if (frame >= p.frames) { return; }
  let base = frame * p.n;
  for (var i = lid; i < p.n; i += WG) { sh[i] = x[base + i]; }
  workgroupBarrier();
  let src = passes_wg(lid);
  for (var i = lid; i < p.n; i += WG) { out[base + i] = sh[src + i] * p.scale; }
}

@compute @workgroup_size(WG)
fn rfft_wg(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let frame = wid.x + wid.y * nwg.x;
  if (frame >= p.frames) { return; }
  let m = p.n;
  let base = frame * m;
  for (var i = lid; i < m; i += WG) { sh[i] = x[base + i]; }
  workgroupBarrier();
  let src = passes_wg(lid);
  let ob = frame * (m + 1u);
  for (var k = lid; k <= m; k += WG) {
    out[ob + k] = untangle(sh[src + (k & (m - 1u))], sh[src + ((m - k) & (m - 1u))], k, m);
  }
}

@compute @workgroup_size(WG)
fn irfft_wg(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let frame = wid.x + wid.y * nwg.x;
  if (frame >= p.frames) { return; }
  let m = p.n;
  let ib = frame * (m + 1u);
  for (var k = lid; k < m; k += WG) { sh[k] = tangle(x[ib + k], x[ib + m - k], k); }
  workgroupBarrier();
  let src = passes_wg(lid);
  let base = frame * m;
  for (var i = lid; i < m; i += WG) { out[base + i] = sh[src + i] * p.scale; }
}

// ---- one dispatch per pass over global memory ------------------------------

@compute @workgroup_size(64)
fn pass4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let q = p.n >> 2u;
  if (t >= p.frames * q) { return; }
  let base = (t >> (p.log2n - 2u)) * p.n;
  let i = t & (q - 1u);
  let pp = 1u << p.lp;
  let k = i & (pp - 1u);
  let r = bfly4(x[base + i], x[base + i + q], x[base + i + 2u * q], x[base + i + 3u * q], k, p.log2n - p.lp - 2u);
  let j = base + ((i - k) << 2u) + k;
  out[j] = r.y0 * p.scale;
  out[j + pp] = r.y1 * p.scale;
  out[j + 2u * pp] = r.y2 * p.scale;
  out[j + 3u * pp] = r.y3 * p.scale;
}

@compute @workgroup_size(64)
fn pass2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let h = p.n >> 1u;
  if (t >= p.frames * h) { return; }
  let base = (t >> (p.log2n - 1u)) * p.n;
  let i = t & (h - 1u);
  let pp = 1u << p.lp;
  let k = i & (pp - 1u);
  let a = x[base + i];
  let b = cmul(x[base + i + h], twid(k));
  let j = base + ((i - k) << 1u) + k;
  out[j] = (a + b) * p.scale;
  out[j + pp] = (a - b) * p.scale;
}

// rfft after the passes: x holds the packed spectra [frames, m], out [frames, m + 1].
@compute @workgroup_size(64)
fn rpost(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let m = p.n;
  if (t >= p.frames * (m + 1u)) { return; }
  let frame = t / (m + 1u);
  let k = t - frame * (m + 1u);
  let base = frame * m;
  out[t] = untangle(x[base + (k & (m - 1u))], x[base + ((m - k) & (m - 1u))], k, m);
}

// irfft before the passes: x holds [frames, m + 1] bins, out the packed [frames, m].
@compute @workgroup_size(64)
fn ipre(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let m = p.n;
  if (t >= p.frames * m) { return; }
  let frame = t >> p.log2n;
  let k = t & (m - 1u);
  let ib = frame * (m + 1u);
  out[t] = tangle(x[ib + k], x[ib + m - k], k);
}

// |z|² of each complex value (p.n = count).
fn abs2_item(i: u32) {
  let z = x[i];
  power[i] = dot(z, z);
}

@compute @workgroup_size(64)
fn abs2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { abs2_item(i); }
}

// (|z|², 0): a real power spectrum already in complex layout, for irfft.
fn abs2_complex_item(i: u32) {
  let z = x[i];
  out[i] = vec2<f32>(dot(z, z), 0.0);
}

@compute @workgroup_size(64)
fn abs2_complex(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { abs2_complex_item(i); }
}
