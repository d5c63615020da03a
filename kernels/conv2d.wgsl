// 2-D convolution (NCHW, weights [c_out, c_in, kh, kw]) and its input
// gradient, which is also conv-transpose's forward pass.
//
// Both are implicit GEMMs: the im2col index arithmetic happens in the loop,
// no patch buffer is built. Each invocation keeps a block of BLOCK (4 or 8)
// output channels × 4 pixels in registers and uses no workgroup memory
// (barriers cost more than the reloads they save on CPU Vulkan drivers). Its
// 4 pixels sit WG apart so that neighbouring invocations read neighbouring
// addresses; its channels come from the workgroup id, so their weights are
// the same for the whole workgroup (a broadcast load). 8 channels reuse each
// gathered value twice as often as 4 (measured ~1.4× faster on lavapipe);
// 4 wastes less when there are few channels. Parameters, bindings and
// helpers: conv2d_common.wgsl.

// y = conv(x, w) + bias. Grid: x/y fold over blocks of 4·WG output pixels
// (batch included), z over blocks of BLOCK output channels.
@compute @workgroup_size(64)
fn fwd(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
       @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane_o = p.ho * p.wo;
  let total = p.n * plane_o;
  let first = i32(wid.x + wid.y * nwg.x) * (4 * WG) + i32(lid.x);
  if (first >= total) { return; }
  let co0 = i32(wid.z) * BLOCK;
  let plane = p.h * p.w;
  let kk = p.kh * p.kw;
  // Weight rows of the output channels; channels past c_out are clamped to
  // a real row and never stored.
  let wrow = clamp4(co0, p.c_out - 1) * (p.c_in * kk);
  let wrow2 = clamp4(co0 + 4, p.c_out - 1) * (p.c_in * kk);
  let px = fwd_pixels(first);
  let ih0 = px.ih0;
  let iw0 = px.iw0;
  let xb = px.xb;
  let ob = px.ob;
  var acc: array<vec4<f32>, 4>; // acc[pixel][channel]
  var acc2: array<vec4<f32>, 4>; // channels 4..7 when BLOCK is 8
  for (var ky = 0; ky < p.kh; ky++) {
    let ih = ih0 + vec4<i32>(ky * p.dh);
    let row_ok = in_range(ih, p.h);
    for (var kx = 0; kx < p.kw; kx++) {
      let iw = iw0 + vec4<i32>(kx * p.dw);
      let ok = row_ok & in_range(iw, p.w);
      // A tap in the padding reads channel ci of image 0 (a valid address) and is masked to 0.
      let off = select(vec4<i32>(0), xb + ih * p.w + iw, ok);
      var xo = 0;
      var wk = ky * p.kw + kx;
      for (var ci = 0; ci < p.c_in; ci++) {
        let xv = select(vec4<f32>(0.0),
          vec4<f32>(src[off.x + xo], src[off.y + xo], src[off.z + xo], src[off.w + xo]), ok);
        let wv = vec4<f32>(wt[wrow.x + wk], wt[wrow.y + wk], wt[wrow.z + wk], wt[wrow.w + wk]);
        acc[0] += xv.x * wv;
        acc[1] += xv.y * wv;
        acc[2] += xv.z * wv;
        acc[3] += xv.w * wv;
        if (BLOCK == 8) {
          let wv2 = vec4<f32>(wt[wrow2.x + wk], wt[wrow2.y + wk], wt[wrow2.z + wk], wt[wrow2.w + wk]);
          acc2[0] += xv.x * wv2;
          acc2[1] += xv.y * wv2;
          acc2[2] += xv.z * wv2;
          acc2[3] += xv.w * wv2;
        }
        xo += plane;
        wk += kk;
      }
    }
  }
  for (var j = 0; j < 4; j++) {
    if (first + j * WG >= total) { break; }
    for (var i = 0; i < BLOCK; i++) {
      let co = co0 + i;
      if (co >= p.c_out) { break; }
      var v = select(acc2[j][i & 3], acc[j][i & 3], i < 4);
      if (p.has_bias != 0) { v += bias[co]; }
      dst[ob[j] + co * plane_o] = v;
    }
  }
}

// x-space result of y-space input g: dst[n, ci, ih, iw] = Σ g[n, co, oh, ow] ·
// w[co, ci, ky, kx] over the taps that land on (ih, iw), plus bias[ci]. A gather,
// so no atomics. Output pixels are split into the sh·sw stride phases
// (ih mod sh, iw mod sw): within one phase the same taps are live for every
// pixel (ky·dh ≡ qh + pad_h mod sh: every ky_step-th ky from the first), so the
// loops visit only those, with no per-pixel divisibility test.
// Grid: x/y fold over blocks of 4·WG pixels of the largest phase, z over
// (phase, block of BLOCK input channels).
@compute @workgroup_size(64)
fn data(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = i32(wid.x + wid.y * nwg.x) * (4 * WG) + i32(lid.x);
  let ph = data_phase(i32(wid.z));
  if (first >= ph.total) { return; }
  let ci0 = ph.ci0;
  let qh = ph.qh;
  let qw = ph.qw;
  let total = ph.total;
  let px = data_pixels(ph, first);
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  let kk = p.kh * p.kw;
  let wst = p.c_in * kk; // between output channels of w
  let wcol = clamp4(ci0, p.c_in - 1) * kk;
  let wcol2 = clamp4(ci0 + 4, p.c_in - 1) * kk;
  let a = px.a;
  let b = px.b;
  let gb = px.gb;
  let ob = px.ob;
  let ky0 = first_live(qh + p.pad_h, p.dh, p.sh, p.ky_step, p.kh);
  let kx0 = first_live(qw + p.pad_w, p.dw, p.sw, p.kx_step, p.kw);
  var acc: array<vec4<f32>, 4>; // acc[pixel][channel]
  var acc2: array<vec4<f32>, 4>; // channels 4..7 when BLOCK is 8
  for (var ky = ky0; ky < p.kh; ky += p.ky_step) {
    // oh = (ih + pad_h - ky·dh) / sh = a + (qh + pad_h - ky·dh) / sh, exactly
    let oh = a + vec4<i32>((qh + p.pad_h - ky * p.dh) / p.sh);
    let row_ok = in_range(oh, p.ho);
    for (var kx = kx0; kx < p.kw; kx += p.kx_step) {
      let ow = b + vec4<i32>((qw + p.pad_w - kx * p.dw) / p.sw);
      let ok = row_ok & in_range(ow, p.wo);
      let off = select(vec4<i32>(0), gb + oh * p.wo + ow, ok);
      var go = 0;
      var wk = ky * p.kw + kx;
      for (var co = 0; co < p.c_out; co++) {
        let gv = select(vec4<f32>(0.0),
          vec4<f32>(src[off.x + go], src[off.y + go], src[off.z + go], src[off.w + go]), ok);
        let wv = vec4<f32>(wt[wcol.x + wk], wt[wcol.y + wk], wt[wcol.z + wk], wt[wcol.w + wk]);
        acc[0] += gv.x * wv;
        acc[1] += gv.y * wv;
        acc[2] += gv.z * wv;
        acc[3] += gv.w * wv;
        if (BLOCK == 8) {
          let wv2 = vec4<f32>(wt[wcol2.x + wk], wt[wcol2.y + wk], wt[wcol2.z + wk], wt[wcol2.w + wk]);
          acc2[0] += gv.x * wv2;
          acc2[1] += gv.y * wv2;
          acc2[2] += gv.z * wv2;
          acc2[3] += gv.w * wv2;
        }
        go += plane_o;
        wk += wst;
      }
    }
  }
  for (var j = 0; j < 4; j++) {
    if (first + j * WG >= total) { break; }
    for (var i = 0; i < BLOCK; i++) {
      let ci = ci0 + i;
      if (ci >= p.c_in) { break; }
      var v = select(acc2[j][i & 3], acc[j][i & 3], i < 4);
      if (p.has_bias != 0) { v += bias[ci]; }
      dst[ob[j] + ci * plane] = v;
    }
  }
}
