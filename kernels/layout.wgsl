// Strided gather: every output element reads the input at
// offset + sum(coord_d * stride_d), where coord_d = out_index_d - lo_d; a
// coordinate outside [0, extent_d) yields pad_value. One kernel serves
// permute, broadcast (stride 0), slice (offset, lo 0) and pad (lo > 0).
// An output past the storage binding limit is written in ranges of rows
// (axis 0): row0 is the first row of the range bound as out.
struct Params {
  n: u32,
  rank: u32,
  offset: u32,
  pad_value: f32,
  row0: u32,
  out_shape: array<vec4<u32>, 2>,
  in_strides: array<vec4<u32>, 2>,
  lo: array<vec4<u32>, 2>,
  extent: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn dim(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

fn item(i: u32) {
  var rem = i;
  var src = p.offset;
  var inside = true;
  // One division per axis but the first, whose coordinate is what remains
  // (i < n bounds it): a CPU driver divides lane by lane.
  for (var k = p.rank; k > 0u; k--) {
    let d = k - 1u;
    var q = 0u;
    var c = i32(rem);
    if (d > 0u) {
      let s = dim(p.out_shape, d);
      q = rem / s;
      c = i32(rem - q * s);
    } else {
      c += i32(p.row0);
    }
    rem = q;
    c -= i32(dim(p.lo, d));
    if (c < 0 || c >= i32(dim(p.extent, d))) { inside = false; }
    src += u32(max(c, 0)) * dim(p.in_strides, d);
  }
  out[i] = select(p.pad_value, x[src], inside);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { item(i); }
}
