// 2-D max pooling over NCHW planes, and the two linear maps its gradients need.
// Lanes stride over their items (engine.ts gridStride).
// forward:  per output: the max of its window (padding never wins) and the
//           argmax as a flat index h·W + w within the input plane, stored as
//           f32 (exact below 2^24).
// backward: per INPUT element: it sums the gradients of the windows that
//           cover it and chose it. A gather, so no atomics and the result
//           does not depend on scheduling.
//           SEARCH_ALL = 1 (geometry unknown) looks at every output of the plane.
// forward_2x2, forward_2x2_quads, backward_2x2: the same maps for the common
//           2×2 window with stride 2, no padding and an even input height
//           (see below).
// gather:   per output: out = g_in[argmax], the adjoint of backward (its
//           gradient, and the forward with fixed indices).
override SEARCH_ALL: u32 = 0u;
// forward: 0 when nothing will read the argmax (no gradient, no caller asking):
// one store in three fewer; idx_out is then a stand-in.
override WITH_INDICES: u32 = 1u;

struct Params {
  n_out: u32,
  n_in: u32,
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  k_h: u32,
  k_w: u32,
  s_h: u32,
  s_w: u32,
  p_h: u32,
  p_w: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx_out: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> idx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
// x again, for forward_2x2_quads: whole windows' rows as vec4 and vec2 loads
@group(0) @binding(7) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> x2: array<vec2<f32>>;

// Bit test, not v != v: the driver's compiler may assume no NaNs and fold that
// away. (Not named x: the binding reflection would count it as a use of x.)
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// v takes the window's maximum from best, visited in row-major order: the
// first maximum wins ties, a NaN propagates (as torch does).
fn beats(v: f32, best: f32) -> bool { return v > best || (is_nan(v) && !is_nan(best)); }

fn forward_item(o: u32) {
  let out_plane = p.out_h * p.out_w;
  let plane = o / out_plane;
  let rem = o - plane * out_plane;
  let oh = rem / p.out_w;
  let ow = rem - oh * p.out_w;
  let base = plane * p.in_h * p.in_w;
  // window start in padded coordinates; i32 so the padding can be negative
  let h0 = i32(oh * p.s_h) - i32(p.p_h);
  let w0 = i32(ow * p.s_w) - i32(p.p_w);
  var best = 0.0;
  var arg = -1;
  for (var kh = 0u; kh < p.k_h; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(p.in_h)) { continue; }
    for (var kw = 0u; kw < p.k_w; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(p.in_w)) { continue; }
      let j = h * i32(p.in_w) + w;
      let v = x[base + u32(j)];
      if (arg < 0 || beats(v, best)) {
        best = v;
        arg = j;
      }
    }
  }
  out[o] = best;
  if (WITH_INDICES == 1u) { idx_out[o] = f32(arg); }
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var o = gid.x + gid.y * nwg.x * 64u; o < p.n_out; o += nwg.x * nwg.y * 64u) { forward_item(o); }
}

fn backward_item(i: u32) {
  let in_plane = p.in_h * p.in_w;
  let plane = i / in_plane;
  let j = i - plane * in_plane;
  let h = j / p.in_w;
  let w = j - h * p.in_w;
  // windows oh with oh·s − p ≤ h ≤ oh·s − p + k − 1
  let hp = i32(h + p.p_h);
  let wp = i32(w + p.p_w);
  var oh_lo = u32(max(0, (hp - i32(p.k_h) + i32(p.s_h)) / i32(p.s_h)));
  var oh_hi = min(u32(hp) / p.s_h, p.out_h - 1u);
  var ow_lo = u32(max(0, (wp - i32(p.k_w) + i32(p.s_w)) / i32(p.s_w)));
  var ow_hi = min(u32(wp) / p.s_w, p.out_w - 1u);
  if (SEARCH_ALL == 1u) {
    oh_lo = 0u;
    oh_hi = p.out_h - 1u;
    ow_lo = 0u;
    ow_hi = p.out_w - 1u;
  }
  let fj = f32(j);
  let obase = plane * p.out_h * p.out_w;
  var acc = 0.0;
  for (var oh = oh_lo; oh <= oh_hi; oh++) {
    for (var ow = ow_lo; ow <= ow_hi; ow++) {
      let o = obase + oh * p.out_w + ow;
      if (idx[o] == fj) { acc += g[o]; }
    }
  }
  dx[i] = acc;
}

@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n_in; i += nwg.x * nwg.y * 64u) { backward_item(i); }
}

fn gather_item(o: u32) {
  let in_plane = p.in_h * p.in_w;
  let plane = o / (p.out_h * p.out_w);
  // clamp: indices handed in by a caller must not read out of bounds
  let j = min(u32(max(idx[o], 0.0)), in_plane - 1u);
  out[o] = g[plane * in_plane + j];
}

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var o = gid.x + gid.y * nwg.x * 64u; o < p.n_out; o += nwg.x * nwg.y * 64u) { gather_item(o); }
}

// The common 2×2 window, stride 2, no padding, even input height (every pool
// of the classifier). Then in_h = 2·out_h, so output row r of the stacked
// planes (plane r / out_h, row r % out_h) reads input rows 2r and 2r + 1, and
// a workgroup can take whole output rows: ROWS_2X2 · (64 / lanes per row)
// rows, its lanes spread over min(out_w, 64) columns and as many rows as fit.
// No index division per element and no bounds test in the window: on a CPU
// driver those, done lane by lane, cost more than the four loads.
// pool.ts counts blocks with the same rows per block.
const ROWS_2X2: u32 = 4u;

struct Rows2x2 { first: u32, end: u32, step: u32, col: u32, cols: u32 }

// A row of output is `units` columns of work (its outputs). Rows per block:
// ROWS_2X2 per row of lanes.
fn block_rows_2x2(units: u32) -> u32 { return ROWS_2X2 * (64u / min(units, 64u)); }

// Blocks of rows: a workgroup takes blocks wid, wid + workgroups, … (the
// grid stride of gridStride, engine.ts, over blocks instead of items).
fn blocks_2x2(units: u32) -> u32 { return (p.n_out / p.out_w + block_rows_2x2(units) - 1u) / block_rows_2x2(units); }

fn rows_2x2(blk: u32, li: u32, units: u32) -> Rows2x2 {
  let cols = min(units, 64u);
  let lane_rows = 64u / cols;
  let per_group = block_rows_2x2(units);
  let rows = p.n_out / p.out_w;
  let r0 = blk * per_group;
  // lanes past cols · lane_rows get an empty range
  let first = select(rows, r0 + li / cols, li < cols * lane_rows);
  return Rows2x2(first, min(r0 + per_group, rows), lane_rows, li % cols, cols);
}

// The window's maximum and its position 0…3 in row-major order (see beats).
struct Win { best: f32, at: u32 }

fn window_2x2(v0: f32, v1: f32, v2: f32, v3: f32) -> Win {
  var w = Win(v0, 0u);
  if (beats(v1, w.best)) { w = Win(v1, 1u); }
  if (beats(v2, w.best)) { w = Win(v2, 2u); }
  if (beats(v3, w.best)) { w = Win(v3, 3u); }
  return w;
}

// Output o, whose window starts at index at0 in its input plane, and its
// argmax in the plane.
fn store_at(o: u32, at0: u32, w: Win) {
  out[o] = w.best;
  if (WITH_INDICES == 1u) { idx_out[o] = f32(at0 + (w.at & 1u) + (w.at >> 1u) * p.in_w); }
}

// Output o of window column ow (stacked row r).
fn store_2x2(o: u32, r: u32, ow: u32, w: Win) {
  // folded away without indices (WITH_INDICES is a constant)
  store_at(o, 2u * (r % p.out_h) * p.in_w + 2u * ow, w);
}

@compute @workgroup_size(64)
fn forward_2x2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  for (var blk = wid.x + wid.y * nwg.x; blk < blocks_2x2(p.out_w); blk += nwg.x * nwg.y) {
    let rr = rows_2x2(blk, li, p.out_w);
    for (var r = rr.first; r < rr.end; r += rr.step) {
      let top = 2u * r * p.in_w; // the window's first input row, stacked
      for (var ow = rr.col; ow < p.out_w; ow += rr.cols) {
        let j = top + 2u * ow;
        store_2x2(r * p.out_w + ow, r, ow, window_2x2(x[j], x[j + 1u], x[j + p.in_w], x[j + p.in_w + 1u]));
      }
    }
  }
}

// Windows do not overlap: each input element belongs to at most one, so the
// invocation of an output writes its four inputs (g where the argmax points,
// 0 elsewhere) and, for an odd input width, the column no window covers.
@compute @workgroup_size(64)
fn backward_2x2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
  for (var blk = wid.x + wid.y * nwg.x; blk < blocks_2x2(p.out_w); blk += nwg.x * nwg.y) {
    let rr = rows_2x2(blk, li, p.out_w);
    let odd = p.in_w > 2u * p.out_w;
    for (var r = rr.first; r < rr.end; r += rr.step) {
      let top = 2u * r * p.in_w;
      let in_plane = 2u * (r % p.out_h) * p.in_w;
      for (var ow = rr.col; ow < p.out_w; ow += rr.cols) {
        let o = r * p.out_w + ow;
        let gv = g[o];
        let at = idx[o];
        let j = top + 2u * ow;
        let q = f32(in_plane + 2u * ow);
        dx[j] = select(0.0, gv, at == q);
        dx[j + 1u] = select(0.0, gv, at == q + 1.0);
        dx[j + p.in_w] = select(0.0, gv, at == q + f32(p.in_w));
        dx[j + p.in_w + 1u] = select(0.0, gv, at == q + f32(p.in_w + 1u));
        if (odd && ow == p.out_w - 1u) {
          dx[j + 2u] = 0.0;
          dx[j + p.in_w + 2u] = 0.0;
        }
      }
    }
  }
}

// The forward for an even input width, a lane taking four neighbouring
// windows (a quad) per item: their top row is 8 floats at a multiple of 4,
// two vec4 loads; the bottom row, in_w further, two vec4 loads when
// in_w % 4 == 0, else a vec2, a vec4 and a vec2: 5 loads for 16 floats. On
// lavapipe, where every load is a loop over the lanes, that ran 1.1–1.5×
// faster than two windows per lane (a vec4 and two vec2s for 8 floats, lanes
// over the columns of blocks of rows); eight windows per lane were no faster.
// Lanes walk the items (stacked row r, quad u) with the grid stride, as
// gridStride (engine.ts) says, carrying r and u instead of dividing per item.
@compute @workgroup_size(64)
fn forward_2x2_quads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let units = (p.out_w + 3u) / 4u;
  let rows = p.n_out / p.out_w;
  let lanes = nwg.x * nwg.y * 64u;
  let first = gid.x + gid.y * nwg.x * 64u;
  var r = first / units;
  var u = first - r * units;
  let dr = lanes / units;
  let du = lanes - dr * units;
  let whole_bottom = p.in_w % 4u == 0u;
  let last4 = arrayLength(&x4) - 1u;
  let last2 = arrayLength(&x2) - 1u;
  while (r < rows) {
    let ow = 4u * u;
    let top = 2u * r * p.in_w + 2u * ow;
    let bot = top + p.in_w;
    let o = r * p.out_w + ow;
    let at0 = 2u * (r % p.out_h) * p.in_w + 2u * ow; // folded away without indices
    // A row's last quad may hold fewer windows: it loads as a whole one
    // (clamped to the buffer, so the last row reads nothing past it) and
    // stores only its own windows. No branch: on a CPU driver lanes that
    // diverge run both sides.
    let t0 = x4[min(top / 4u, last4)];
    let t1 = x4[min(top / 4u + 1u, last4)];
    var b0: vec4<f32>;
    var b1: vec4<f32>;
    if (whole_bottom) {
      b0 = x4[min(bot / 4u, last4)];
      b1 = x4[min(bot / 4u + 1u, last4)];
    } else {
      let lo = x2[min(bot / 2u, last2)];
      let mid = x4[min((bot + 2u) / 4u, last4)];
      let hi = x2[min(bot / 2u + 3u, last2)];
      b0 = vec4<f32>(lo, mid.xy);
      b1 = vec4<f32>(mid.zw, hi);
    }
    store_at(o, at0, window_2x2(t0.x, t0.y, b0.x, b0.y));
    if (ow + 1u < p.out_w) { store_at(o + 1u, at0 + 2u, window_2x2(t0.z, t0.w, b0.z, b0.w)); }
    if (ow + 2u < p.out_w) { store_at(o + 2u, at0 + 4u, window_2x2(t1.x, t1.y, b1.x, b1.y)); }
    if (ow + 3u < p.out_w) { store_at(o + 3u, at0 + 6u, window_2x2(t1.z, t1.w, b1.z, b1.w)); }
    u += du;
    r += dr;
    if (u >= units) {
      u -= units;
      r += 1u;
    }
  }
}

