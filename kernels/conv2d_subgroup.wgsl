// conv2d.wgsl's two entries (forward, and input gradient = conv-transpose
// forward) for adapters with subgroups of at least 8 lanes; same grid, same
// blocks of 4 pixels × BLOCK channels per invocation, same results. BLOCK may
// also be 16 here (ops/conv.ts uses it past 8 channels): each gathered pixel
// value then feeds 16 channels, and on lavapipe gathers are what cost.
//
// The difference is how weights arrive. Every invocation of a workgroup
// needs the same weights, but lavapipe cannot see that (the address depends
// on loop counters) and loads them lane by lane, 8 times over. Here the
// reduction channels go in chunks of 8: lane l of each group of 8 loads the
// weights of channel r0 + l, once, and each of the 8 steps takes them from
// its lane with subgroupBroadcast. Weight loads per pixel value fall from
// BLOCK to BLOCK / 8. A forward over fewer than 8 input channels runs as
// fwd_taps, which chunks the taps instead (below). Parameters, bindings and
// helpers: conv2d_common.wgsl.
//
// No early return: subgroupBroadcast needs every lane of the subgroup to
// reach it, so lanes past the last pixel compute on clamped addresses and
// store nothing.

var<private> acc: array<vec4<f32>, 4>; // acc[pixel][channel], channels 0..3
var<private> acc2: array<vec4<f32>, 4>; // channels 4..7 when BLOCK is 8 or 16
var<private> acc3: array<vec4<f32>, 4>; // channels 8..11 when BLOCK is 16
var<private> acc4: array<vec4<f32>, 4>; // channels 12..15 when BLOCK is 16
var<private> xoff: vec4<i32>; // the 4 pixels' offsets at reduction channel 0
var<private> xok: vec4<bool>; // pixel inside the image at this tap
var<private> xstride: i32; // between reduction channels in src
var<private> rlen: i32; // reduction channels

// The 4 pixels' values at reduction channel r: zero in the padding and past
// the last channel (whose weights are zero too, but its clamped read could
// be an inf).
fn gather(r: i32) -> vec4<f32> {
  let o = xoff + vec4<i32>(min(r, rlen - 1) * xstride);
  let v = vec4<f32>(src[o.x], src[o.y], src[o.z], src[o.w]);
  return select(vec4<f32>(0.0), v, xok & vec4<bool>(r < rlen));
}

fn tap(v: vec4<f32>, w: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>, w4: vec4<f32>) {
  acc[0] = fma(vec4<f32>(v.x), w, acc[0]);
  acc[1] = fma(vec4<f32>(v.y), w, acc[1]);
  acc[2] = fma(vec4<f32>(v.z), w, acc[2]);
  acc[3] = fma(vec4<f32>(v.w), w, acc[3]);
  if (BLOCK >= 8) {
    acc2[0] = fma(vec4<f32>(v.x), w2, acc2[0]);
    acc2[1] = fma(vec4<f32>(v.y), w2, acc2[1]);
    acc2[2] = fma(vec4<f32>(v.z), w2, acc2[2]);
    acc2[3] = fma(vec4<f32>(v.w), w2, acc2[3]);
  }
  if (BLOCK == 16) {
    acc3[0] = fma(vec4<f32>(v.x), w3, acc3[0]);
    acc3[1] = fma(vec4<f32>(v.y), w3, acc3[1]);
    acc3[2] = fma(vec4<f32>(v.z), w3, acc3[2]);
    acc3[3] = fma(vec4<f32>(v.w), w3, acc3[3]);
    acc4[0] = fma(vec4<f32>(v.x), w4, acc4[0]);
    acc4[1] = fma(vec4<f32>(v.y), w4, acc4[1]);
    acc4[2] = fma(vec4<f32>(v.z), w4, acc4[2]);
    acc4[3] = fma(vec4<f32>(v.w), w4, acc4[3]);
  }
}

// Weights of the block's channels at reduction channel r, zero past the last.
fn weights(base: vec4<i32>, r: i32, step: i32) -> vec4<f32> {
  let o = base + vec4<i32>(min(r, rlen - 1) * step);
  return select(vec4<f32>(0.0), vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]), r < rlen);
}

// Where the weights of the block's 16 channels (groups of 4, clamped to the
// last channel c_last) start, channel c at c · len: rows of the weights for
// the output channels of fwd, columns for the input channels of data.
struct BlockBase { a: vec4<i32>, b: vec4<i32>, c: vec4<i32>, d: vec4<i32> }

fn block_base(c0: i32, c_last: i32, len: i32) -> BlockBase {
  return BlockBase(clamp4(c0, c_last) * len, clamp4(c0 + 4, c_last) * len, clamp4(c0 + 8, c_last) * len, clamp4(c0 + 12, c_last) * len);
}

// Weights of the block's 4, 8 or 16 channels at tap offset `off` and
// reduction index r; groups past BLOCK are zero.
struct BlockW { a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32> }

fn block_weights(base: BlockBase, off: i32, r: i32, step: i32) -> BlockW {
  var w = BlockW(weights(base.a + vec4<i32>(off), r, step), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (BLOCK >= 8) { w.b = weights(base.b + vec4<i32>(off), r, step); }
  if (BLOCK == 16) { w.c = weights(base.c + vec4<i32>(off), r, step); w.d = weights(base.d + vec4<i32>(off), r, step); }
  return w;
}

// Reduction channels r0 .. r0+7 at one tap (offset off in the weights);
// step: between reduction channels in wt.
fn chunk(r0: i32, base: BlockBase, off: i32, step: i32, lane: i32) {
  let w = block_weights(base, off, r0 + lane, step);
  let wa = w.a;
  let wb = w.b;
  let wc = w.c;
  let wd = w.d;
  tap(gather(r0), subgroupBroadcast(wa, 0u), subgroupBroadcast(wb, 0u), subgroupBroadcast(wc, 0u), subgroupBroadcast(wd, 0u));
  tap(gather(r0 + 1), subgroupBroadcast(wa, 1u), subgroupBroadcast(wb, 1u), subgroupBroadcast(wc, 1u), subgroupBroadcast(wd, 1u));
  tap(gather(r0 + 2), subgroupBroadcast(wa, 2u), subgroupBroadcast(wb, 2u), subgroupBroadcast(wc, 2u), subgroupBroadcast(wd, 2u));
  tap(gather(r0 + 3), subgroupBroadcast(wa, 3u), subgroupBroadcast(wb, 3u), subgroupBroadcast(wc, 3u), subgroupBroadcast(wd, 3u));
  tap(gather(r0 + 4), subgroupBroadcast(wa, 4u), subgroupBroadcast(wb, 4u), subgroupBroadcast(wc, 4u), subgroupBroadcast(wd, 4u));
  tap(gather(r0 + 5), subgroupBroadcast(wa, 5u), subgroupBroadcast(wb, 5u), subgroupBroadcast(wc, 5u), subgroupBroadcast(wd, 5u));
  tap(gather(r0 + 6), subgroupBroadcast(wa, 6u), subgroupBroadcast(wb, 6u), subgroupBroadcast(wc, 6u), subgroupBroadcast(wd, 6u));
  tap(gather(r0 + 7), subgroupBroadcast(wa, 7u), subgroupBroadcast(wb, 7u), subgroupBroadcast(wc, 7u), subgroupBroadcast(wd, 7u));
}

// The block's channels of the 4 pixels at ob (offsets in dst) whose ok is set.
fn store_masked(ob: vec4<i32>, c0: i32, stride: i32, count: i32, ok: vec4<bool>) {
  for (var j = 0; j < 4; j++) {
    if (!ok[j]) { continue; }
    for (var i = 0; i < BLOCK; i++) {
      let c = c0 + i;
      if (c >= count) { break; }
      var v = select(acc2[j][i & 3], acc[j][i & 3], i < 4);
      if (i >= 8) { v = select(acc4[j][i & 3], acc3[j][i & 3], i < 12); }
      if (p.has_bias != 0) { v += bias[c]; }
      dst[ob[j] + c * stride] = v;
    }
  }
}

// The 4 pixels WG apart from first, those before total.
fn store(ob: vec4<i32>, c0: i32, stride: i32, count: i32, first: i32, total: i32) {
  store_masked(ob, c0, stride, count, vec4<i32>(first) + vec4<i32>(0, WG, 2 * WG, 3 * WG) < vec4<i32>(total));
}

// y = conv(x, w) + bias; grid as conv2d.wgsl's fwd.
@compute @workgroup_size(64)
fn fwd(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
       @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let plane_o = p.ho * p.wo;
  let total = p.n * plane_o;
  let first = i32(wid.x + wid.y * nwg.x) * (4 * WG) + i32(lid.x);
  let co0 = i32(wid.z) * BLOCK;
  let plane = p.h * p.w;
  let kk = p.kh * p.kw;
  let wrow = block_base(co0, p.c_out - 1, p.c_in * kk);
  let px = fwd_pixels(first);
  let ih0 = px.ih0;
  let iw0 = px.iw0;
  let xb = px.xb;
  let ob = px.ob;
  xstride = plane;
  rlen = p.c_in;
  let lane = i32(sl % 8u);
  for (var ky = 0; ky < p.kh; ky++) {
    let ih = ih0 + vec4<i32>(ky * p.dh);
    let row_ok = in_range(ih, p.h);
    for (var kx = 0; kx < p.kw; kx++) {
      let iw = iw0 + vec4<i32>(kx * p.dw);
      xok = row_ok & in_range(iw, p.w);
      xoff = select(vec4<i32>(0), xb + ih * p.w + iw, xok);
      for (var c0 = 0; c0 < p.c_in; c0 += 8) {
        chunk(c0, wrow, ky * p.kw + kx, kk, lane);
      }
    }
  }
  store(ob, co0, plane_o, p.c_out, first, total);
}

// fwd_taps: fwd for fewer than 8 input channels (a network's first layer),
// where chunks of 8 channels would mostly multiply zeros. The reduction runs
// over all c_in·kh·kw taps instead, in chunks of 8 taps: lane l loads the
// weights of tap t0 + l (weights are [c_out, c_in, kh, kw], so a tap's index
// is its offset in a weight row) and each step takes them from its lane.
// The step's tap (ci, ky, kx) is the same in every lane: counters, no
// division. lavapipe, as subgroup16: 1.67× the plain kernel on the critic's
// 3→64 5×5 layer, 1.33× on the classifier's 1→32 3×3.
var<private> tci: i32;
var<private> tky: i32;
var<private> tkx: i32;

// The 4 pixels' values at the current tap, zero in the padding and past the
// last tap; then the counters move to the next tap.
fn next_tap(ih0: vec4<i32>, iw0: vec4<i32>, xb: vec4<i32>) -> vec4<f32> {
  let ih = ih0 + vec4<i32>(tky * p.dh);
  let iw = iw0 + vec4<i32>(tkx * p.dw);
  let ok = in_range(ih, p.h) & in_range(iw, p.w) & vec4<bool>(tci < p.c_in);
  let o = select(vec4<i32>(0), xb + vec4<i32>(tci * p.h * p.w) + ih * p.w + iw, ok);
  let v = select(vec4<f32>(0.0), vec4<f32>(src[o.x], src[o.y], src[o.z], src[o.w]), ok);
  tkx += 1;
  if (tkx == p.kw) {
    tkx = 0;
    tky += 1;
    if (tky == p.kh) {
      tky = 0;
      tci += 1;
    }
  }
  return v;
}

@compute @workgroup_size(64)
fn fwd_taps(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let plane_o = p.ho * p.wo;
  let total = p.n * plane_o;
  let first = i32(wid.x + wid.y * nwg.x) * (4 * WG) + i32(lid.x);
  let co0 = i32(wid.z) * BLOCK;
  let taps = p.c_in * p.kh * p.kw;
  let wrow = block_base(co0, p.c_out - 1, taps);
  let px = fwd_pixels(first);
  rlen = taps; // weights(): zero past the last tap
  let lane = i32(sl % 8u);
  tci = 0;
  tky = 0;
  tkx = 0;
  for (var t0 = 0; t0 < taps; t0 += 8) {
    let w = block_weights(wrow, 0, t0 + lane, 1);
    let wa = w.a;
    let wb = w.b;
    let wc = w.c;
    let wd = w.d;
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 0u), subgroupBroadcast(wb, 0u), subgroupBroadcast(wc, 0u), subgroupBroadcast(wd, 0u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 1u), subgroupBroadcast(wb, 1u), subgroupBroadcast(wc, 1u), subgroupBroadcast(wd, 1u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 2u), subgroupBroadcast(wb, 2u), subgroupBroadcast(wc, 2u), subgroupBroadcast(wd, 2u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 3u), subgroupBroadcast(wb, 3u), subgroupBroadcast(wc, 3u), subgroupBroadcast(wd, 3u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 4u), subgroupBroadcast(wb, 4u), subgroupBroadcast(wc, 4u), subgroupBroadcast(wd, 4u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 5u), subgroupBroadcast(wb, 5u), subgroupBroadcast(wc, 5u), subgroupBroadcast(wd, 5u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 6u), subgroupBroadcast(wb, 6u), subgroupBroadcast(wc, 6u), subgroupBroadcast(wd, 6u));
    tap(next_tap(px.ih0, px.iw0, px.xb), subgroupBroadcast(wa, 7u), subgroupBroadcast(wb, 7u), subgroupBroadcast(wc, 7u), subgroupBroadcast(wd, 7u));
  }
  store(px.ob, co0, plane_o, p.c_out, first, total);
}

// x-space result of y-space input g (see conv2d.wgsl's data for the stride
// phases); grid as there.
@compute @workgroup_size(64)
fn data(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let first = i32(wid.x + wid.y * nwg.x) * (4 * WG) + i32(lid.x);
  let ph = data_phase(i32(wid.z));
  let ci0 = ph.ci0;
  let qh = ph.qh;
  let qw = ph.qw;
  let total = ph.total;
  let px = data_pixels(ph, first);
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  let kk = p.kh * p.kw;
  let wst = p.c_in * kk;
  let wcol = block_base(ci0, p.c_in - 1, kk);
  let a = px.a;
  let b = px.b;
  let gb = px.gb;
  let ob = px.ob;
  xstride = plane_o;
  rlen = p.c_out;
  let lane = i32(sl % 8u);
  let ky0 = first_live(qh + p.pad_h, p.dh, p.sh, p.ky_step, p.kh);
  let kx0 = first_live(qw + p.pad_w, p.dw, p.sw, p.kx_step, p.kw);
  for (var ky = ky0; ky < p.kh; ky += p.ky_step) {
    let oh = a + vec4<i32>((qh + p.pad_h - ky * p.dh) / p.sh);
    let row_ok = in_range(oh, p.ho);
    for (var kx = kx0; kx < p.kw; kx += p.kx_step) {
      let ow = b + vec4<i32>((qw + p.pad_w - kx * p.dw) / p.sw);
      xok = row_ok & in_range(ow, p.wo);
      xoff = select(vec4<i32>(0), gb + oh * p.wo + ow, xok);
      for (var c0 = 0; c0 < p.c_out; c0 += 8) {
        chunk(c0, wcol, ky * p.kw + kx, wst, lane);
      }
    }
  }
  store(ob, ci0, plane, p.c_in, first, total);
}
