// Sum or max over a set of axes. Each output element has an input base
// offset (out_strides maps output coords to input strides); the reduced axes
// are walked through red_shape/red_strides. OP: 0 sum, 1 max.
override OP: u32 = 0u;

struct Params {
  n_out: u32,
  n_red: u32,
  out_rank: u32,
  red_rank: u32,
  out_shape: array<vec4<u32>, 2>,
  out_strides: array<vec4<u32>, 2>,
  red_shape: array<vec4<u32>, 2>,
  red_strides: array<vec4<u32>, 2>,
  // chunked entry only: each workgroup reduces chunk_len elements of one output
  chunk_len: u32,
  n_chunks: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn dim(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

fn base_of(o: u32) -> u32 {
  var rem = o;
  var base = 0u;
  for (var d = i32(p.out_rank) - 1; d >= 0; d--) {
    let s = dim(p.out_shape, u32(d));
    base += (rem % s) * dim(p.out_strides, u32(d));
    rem = rem / s;
  }
  return base;
}

fn offset_of(r: u32) -> u32 {
  var rem = r;
  var off = 0u;
  for (var d = i32(p.red_rank) - 1; d >= 0; d--) {
    let s = dim(p.red_shape, u32(d));
    off += (rem % s) * dim(p.red_strides, u32(d));
    rem = rem / s;
  }
  return off;
}

fn identity() -> f32 {
  // -inf, written so the compiler cannot fold it (a constant -inf is an error)
  if (OP == 1u) { return bitcast<f32>(0xff800000u + min(p.n_out, 0u)); }
  return 0.0;
}

// Bit test, not x != x: the driver's compiler may assume no NaNs and fold that away.
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

fn combine(acc: f32, v: f32) -> f32 {
  // NaN anywhere wins, as in torch: once acc is NaN, max(acc, v) may return v
  if (OP == 1u) { return select(max(acc, v), acc + v, is_nan(acc) || is_nan(v)); }
  return acc + v;
}

// One invocation per output: good when there are many outputs.
fn item(o: u32) {
  let base = base_of(o);
  var acc = identity();
  // innermost reduced axis contiguous in the loop: walk it without division
  let inner = dim(p.red_shape, p.red_rank - 1u);
  let inner_stride = dim(p.red_strides, p.red_rank - 1u);
  for (var r = 0u; r < p.n_red; r += inner) {
    let off = base + offset_of(r);
    for (var j = 0u; j < inner; j++) { acc = combine(acc, x[off + j * inner_stride]); }
  }
  out[o] = acc;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var o = gid.x + gid.y * nwg.x * 64u; o < p.n_out; o += nwg.x * nwg.y * 64u) { item(o); }
}

var<workgroup> part: array<f32, 256>;

// Few outputs over many elements: workgroup (o, c) reduces elements
// [c·chunk_len, (c+1)·chunk_len) of output o into out[o·n_chunks + c], with a
// pairwise tree that keeps f32 rounding small. With one chunk this is one
// workgroup per output (a loss, batch statistics, a bias gradient); with
// several it is the first stage of a very long reduction, whose partials a
// second dispatch reduces (one workgroup per output would leave all but one
// core idle on a full reduction).
@compute @workgroup_size(256)
fn chunked(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= p.n_out * p.n_chunks) { return; }
  let o = flat / p.n_chunks;
  let c = flat % p.n_chunks;
  let base = base_of(o);
  let r0 = c * p.chunk_len;
  let r1 = min(r0 + p.chunk_len, p.n_red);
  // The innermost reduced axis is walked without division: r = q·inner + j,
  // j advanced by the stride, the outer axes' offset recomputed only when j
  // wraps (offset_of divides per axis, and a CPU driver divides lane by lane).
  let inner = dim(p.red_shape, p.red_rank - 1u);
  let inner_stride = dim(p.red_strides, p.red_rank - 1u);
  var q = (r0 + lid.x) / inner;
  var j = r0 + lid.x - q * inner;
  var outer = base + offset_of(q * inner);
  var acc = identity();
  for (var r = r0 + lid.x; r < r1; r += 256u) {
    acc = combine(acc, x[outer + j * inner_stride]);
    j += 256u;
    if (j >= inner) {
      q += j / inner;
      j = j % inner;
      outer = base + offset_of(q * inner);
    }
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { part[lid.x] = combine(part[lid.x], part[lid.x + s]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[flat] = part[0]; }
}
