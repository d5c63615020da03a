// Weight gradient of a 2-D convolution: out[co, ci, ky, kx] = Σ over images
// and output pixels of g[n, co, oh, ow] · x[n, ci, oh*sh - pad_h + ky*dh,
// ow*sw - pad_w + kx*dw]. The outputs are few and the reduction is long, so
// the reduction is cut into chunks of whole output rows; each chunk writes
// its own partial result ([n_chunks, c_out, c_in·kh·kw]) and the caller sums
// them. Each invocation holds a block of output channels × 4 or 8 taps in
// registers; no workgroup memory.
//   main: the taps are 4 or 8 (CI_BLOCK) input channels at one (ky, kx), so
//         they share one range of valid output columns and the inner loop has no bounds
//         tests; the BLOCK (4, 8 or 16) output channels and the chunk come from the
//         workgroup id, so the g reads are the same across the workgroup.
//   flat: 4 channels × 4 taps consecutive in (ci, ky, kx), masked per tap;
//         for c_in < 4 (a network's first layer), where main would idle.
//   rows: 4 channels × a row of up to 4 taps, whose x values slide along the
//         output row (unit column stride and dilation; below).
struct Params {
  n: i32, c_in: i32, h: i32, w: i32,
  c_out: i32, ho: i32, wo: i32, kh: i32,
  kw: i32, sh: i32, sw: i32, pad_h: i32,
  pad_w: i32, dh: i32, dw: i32, rows_per_chunk: i32,
  n_chunks: i32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn in_range(v: vec4<i32>, hi: i32) -> vec4<bool> {
  return (v >= vec4<i32>(0)) & (v < vec4<i32>(hi));
}

// Output channels per invocation: 4 or 8 (flat: 4); main also takes 16.
override BLOCK: i32 = 8;
// main: input channels per invocation (4 or 8); 8 halves the g loads per
// multiply-add, at twice the accumulators.
override CI_BLOCK: i32 = 4;

// Flat invocation index: tap block fastest (neighbours read neighbouring x
// and mostly the same g), then channel block, then chunk. Grid folded into y
// past 65535.
@compute @workgroup_size(64)
fn flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = i32(gid.x + gid.y * nwg.x * 64u);
  let kk = p.kh * p.kw;
  let taps = p.c_in * kk;
  let tap_blocks = (taps + 3) / 4;
  let co_blocks = (p.c_out + 3) / 4;
  let tb = id % tap_blocks;
  let rest = id / tap_blocks;
  let cb = rest % co_blocks;
  let chunk = rest / co_blocks;
  if (chunk >= p.n_chunks) { return; }
  let t0 = tb * 4;
  let co0 = cb * 4;
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  // Per tap: its offset inside an image, and its row/column shift.
  var xoff: vec4<i32>;
  var kyd: vec4<i32>;
  var kxd: vec4<i32>;
  for (var i = 0; i < 4; i++) {
    let t = min(t0 + i, taps - 1);
    let ci = t / kk;
    let rem = t - ci * kk;
    let ky = rem / p.kw;
    let kx = rem - ky * p.kw;
    kyd[i] = ky * p.dh;
    kxd[i] = kx * p.dw;
    xoff[i] = ci * plane + kyd[i] * p.w + kxd[i];
  }
  let gco = min(vec4<i32>(co0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let rows = p.n * p.ho;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(r0 + p.rows_per_chunk, rows);
  var acc: array<vec4<f32>, 4>; // acc[tap][channel]
  for (var r = r0; r < r1; r++) {
    let nn = r / p.ho;
    let oh = r - nn * p.ho;
    let ihb = oh * p.sh - p.pad_h;
    let row_ok = in_range(vec4<i32>(ihb) + kyd, p.h);
    // Address of tap i at column iwb: xrow + xoff[i] + iwb.
    let xrow = nn * p.c_in * plane + ihb * p.w;
    let grow = nn * p.c_out * plane_o + oh * p.wo;
    for (var ow = 0; ow < p.wo; ow++) {
      let iwb = ow * p.sw - p.pad_w;
      let ok = row_ok & in_range(vec4<i32>(iwb) + kxd, p.w);
      let off = select(vec4<i32>(0), vec4<i32>(xrow + iwb) + xoff, ok);
      let xv = select(vec4<f32>(0.0), vec4<f32>(x[off.x], x[off.y], x[off.z], x[off.w]), ok);
      let gi = grow + ow;
      let gv = vec4<f32>(g[gco.x + gi], g[gco.y + gi], g[gco.z + gi], g[gco.w + gi]);
      acc[0] += xv.x * gv;
      acc[1] += xv.y * gv;
      acc[2] += xv.z * gv;
      acc[3] += xv.w * gv;
    }
  }
  let base = chunk * p.c_out * taps;
  for (var i = 0; i < 4; i++) {
    let t = t0 + i;
    if (t >= taps) { break; }
    for (var c = 0; c < 4; c++) {
      let co = co0 + c;
      if (co >= p.c_out) { break; }
      out[base + co * taps + t] = acc[i][c];
    }
  }
}

// Grid: x over tap blocks (WG per group), y over blocks of BLOCK output
// channels, z over chunks.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kk = p.kh * p.kw;
  let taps = p.c_in * kk;
  let tb = i32(gid.x);
  if (tb >= ((p.c_in + CI_BLOCK - 1) / CI_BLOCK) * kk) { return; }
  let co0 = i32(wid.y) * BLOCK;
  let chunk = i32(wid.z);
  let pos = tb % kk; // (ky, kx): neighbouring invocations, neighbouring columns
  let ci0 = (tb / kk) * CI_BLOCK;
  let ky = pos / p.kw;
  let kx = pos - ky * p.kw;
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  let xoff = min(vec4<i32>(ci0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_in - 1)) * plane;
  let xoff2 = min(vec4<i32>(ci0 + 4) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_in - 1)) * plane;
  let gco = min(vec4<i32>(co0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let gco2 = min(vec4<i32>(co0 + 4) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let gco3 = min(vec4<i32>(co0 + 8) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let gco4 = min(vec4<i32>(co0 + 12) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  // Output columns whose input column ow·sw - pad_w + kx·dw lies inside x.
  let shift = kx * p.dw - p.pad_w;
  let ow_lo = select(0, (p.sw - 1 - shift) / p.sw, shift < 0);
  let ow_hi = select(0, min(p.wo, (p.w - 1 - shift) / p.sw + 1), p.w - 1 - shift >= 0);
  let rows = p.n * p.ho;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(r0 + p.rows_per_chunk, rows);
  var acc: array<vec4<f32>, 4>; // acc[tap][channel]
  var acc2: array<vec4<f32>, 4>; // channels 4..7 when BLOCK is 8
  var acc3: array<vec4<f32>, 4>; // taps 4..7 when CI_BLOCK is 8
  var acc4: array<vec4<f32>, 4>; // taps 4..7, channels 4..7
  // BLOCK 16: channels 8..11 and 12..15, taps 0..3 (acc5, acc6) and 4..7 (acc7, acc8)
  var acc5: array<vec4<f32>, 4>;
  var acc6: array<vec4<f32>, 4>;
  var acc7: array<vec4<f32>, 4>;
  var acc8: array<vec4<f32>, 4>;
  for (var r = r0; r < r1; r++) {
    let nn = r / p.ho;
    let oh = r - nn * p.ho;
    let ih = oh * p.sh - p.pad_h + ky * p.dh;
    if (ih < 0 || ih >= p.h) { continue; }
    let xrow = nn * p.c_in * plane + ih * p.w + shift; // + ow·sw + xoff
    let grow = nn * p.c_out * plane_o + oh * p.wo;
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      let xi = xrow + ow * p.sw;
      let xv = vec4<f32>(x[xi + xoff.x], x[xi + xoff.y], x[xi + xoff.z], x[xi + xoff.w]);
      let gi = grow + ow;
      let gv = vec4<f32>(g[gco.x + gi], g[gco.y + gi], g[gco.z + gi], g[gco.w + gi]);
      acc[0] += xv.x * gv;
      acc[1] += xv.y * gv;
      acc[2] += xv.z * gv;
      acc[3] += xv.w * gv;
      var gv2 = vec4<f32>(0.0);
      var gv3 = vec4<f32>(0.0);
      var gv4 = vec4<f32>(0.0);
      if (BLOCK == 16) {
        gv3 = vec4<f32>(g[gco3.x + gi], g[gco3.y + gi], g[gco3.z + gi], g[gco3.w + gi]);
        gv4 = vec4<f32>(g[gco4.x + gi], g[gco4.y + gi], g[gco4.z + gi], g[gco4.w + gi]);
        acc5[0] += xv.x * gv3;
        acc5[1] += xv.y * gv3;
        acc5[2] += xv.z * gv3;
        acc5[3] += xv.w * gv3;
        acc6[0] += xv.x * gv4;
        acc6[1] += xv.y * gv4;
        acc6[2] += xv.z * gv4;
        acc6[3] += xv.w * gv4;
      }
      if (BLOCK >= 8) {
        gv2 = vec4<f32>(g[gco2.x + gi], g[gco2.y + gi], g[gco2.z + gi], g[gco2.w + gi]);
        acc2[0] += xv.x * gv2;
        acc2[1] += xv.y * gv2;
        acc2[2] += xv.z * gv2;
        acc2[3] += xv.w * gv2;
      }
      if (CI_BLOCK == 8) {
        let xw = vec4<f32>(x[xi + xoff2.x], x[xi + xoff2.y], x[xi + xoff2.z], x[xi + xoff2.w]);
        acc3[0] += xw.x * gv;
        acc3[1] += xw.y * gv;
        acc3[2] += xw.z * gv;
        acc3[3] += xw.w * gv;
        if (BLOCK == 16) {
          acc7[0] += xw.x * gv3;
          acc7[1] += xw.y * gv3;
          acc7[2] += xw.z * gv3;
          acc7[3] += xw.w * gv3;
          acc8[0] += xw.x * gv4;
          acc8[1] += xw.y * gv4;
          acc8[2] += xw.z * gv4;
          acc8[3] += xw.w * gv4;
        }
        if (BLOCK >= 8) {
          acc4[0] += xw.x * gv2;
          acc4[1] += xw.y * gv2;
          acc4[2] += xw.z * gv2;
          acc4[3] += xw.w * gv2;
        }
      }
    }
  }
  let base = chunk * p.c_out * taps;
  for (var i = 0; i < CI_BLOCK; i++) {
    let ci = ci0 + i;
    if (ci >= p.c_in) { break; }
    for (var c = 0; c < BLOCK; c++) {
      let co = co0 + c;
      if (co >= p.c_out) { break; }
      var v = select(acc2[i & 3][c & 3], acc[i & 3][c & 3], c < 4);
      if (i >= 4) { v = select(acc4[i & 3][c & 3], acc3[i & 3][c & 3], c < 4); }
      if (c >= 8) {
        v = select(acc6[i & 3][c & 3], acc5[i & 3][c & 3], c < 12);
        if (i >= 4) { v = select(acc8[i & 3][c & 3], acc7[i & 3][c & 3], c < 12); }
      }
      out[base + co * taps + ci * kk + pos] = v;
    }
  }
}

// tiled: the same sums as an implicit GEMM for GPUs. out[co, tap] = Σ_pixels
// g[co, pixel] · x_patch[pixel, tap]: a workgroup of 16×16 computes 64 output
// channels × 64 taps (4×4 each), staging 16 pixels of g and of the im2col
// patch through workgroup memory per step. Pixels run over the chunk's whole
// output rows, flattened; taps are (ci, ky, kx) in weight order. CPU drivers
// pay for the barriers, so the tuner keeps main there.
// Grid: x over blocks of 64 taps, y over blocks of 64 output channels, z over chunks.
var<workgroup> tg: array<array<f32, 68>, 16>; // [pixel][channel], rows padded
var<workgroup> tx: array<array<f32, 68>, 16>; // [pixel][tap]

@compute @workgroup_size(16, 16)
fn tiled(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kk = p.kh * p.kw;
  let taps = p.c_in * kk;
  let tap0 = i32(wid.x) * 64;
  let co0 = i32(wid.y) * 64;
  let chunk = i32(wid.z);
  let tid = i32(lid.y * 16u + lid.x);
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  let rows = p.n * p.ho;
  let p0 = chunk * p.rows_per_chunk * p.wo;
  let p1 = min((chunk + 1) * p.rows_per_chunk, rows) * p.wo;
  // What this invocation loads: 4 (pixel, column) pairs per tile. The column
  // (a channel of g, a tap of x) stays the same every step, so its offsets
  // are worked out once.
  var lp: vec4<i32>; // pixel within the 16 of a step
  var lc: vec4<i32>; // column within the 64
  var goff: vec4<i32>; // g: channel offset, -1 past c_out
  var xci: vec4<i32>; // x: the tap's channel offset, -1 past the taps
  var xky: vec4<i32>;
  var xkx: vec4<i32>;
  for (var e = 0; e < 4; e++) {
    let idx = tid + e * 256;
    lp[e] = idx / 64;
    lc[e] = idx % 64;
    let co = co0 + lc[e];
    goff[e] = select(-1, co * plane_o, co < p.c_out);
    let t = tap0 + lc[e];
    let ci = t / kk;
    let rem = t - ci * kk;
    let ky = rem / p.kw;
    xci[e] = select(-1, ci * plane, t < taps);
    xky[e] = ky * p.dh - p.pad_h;
    xkx[e] = (rem - ky * p.kw) * p.dw - p.pad_w;
  }
  var acc: array<vec4<f32>, 4>; // acc[channel][tap]
  for (var q0 = p0; q0 < p1; q0 += 16) {
    for (var e = 0; e < 4; e++) {
      let q = q0 + lp[e];
      let r = q / p.wo;
      let ow = q - r * p.wo;
      let nn = r / p.ho;
      let oh = r - nn * p.ho;
      let live = q < p1;
      var gv = 0.0;
      if (live && goff[e] >= 0) { gv = g[nn * p.c_out * plane_o + goff[e] + oh * p.wo + ow]; }
      tg[lp[e]][lc[e]] = gv;
      let ih = oh * p.sh + xky[e];
      let iw = ow * p.sw + xkx[e];
      var xv = 0.0;
      if (live && xci[e] >= 0 && ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) {
        xv = x[nn * p.c_in * plane + xci[e] + ih * p.w + iw];
      }
      tx[lp[e]][lc[e]] = xv;
    }
    workgroupBarrier();
    let cr = i32(lid.y) * 4;
    let tc = i32(lid.x) * 4;
    for (var s = 0; s < 16; s++) {
      let gv = vec4<f32>(tg[s][cr], tg[s][cr + 1], tg[s][cr + 2], tg[s][cr + 3]);
      let xv = vec4<f32>(tx[s][tc], tx[s][tc + 1], tx[s][tc + 2], tx[s][tc + 3]);
      acc[0] = fma(vec4<f32>(gv.x), xv, acc[0]);
      acc[1] = fma(vec4<f32>(gv.y), xv, acc[1]);
      acc[2] = fma(vec4<f32>(gv.z), xv, acc[2]);
      acc[3] = fma(vec4<f32>(gv.w), xv, acc[3]);
    }
    workgroupBarrier();
  }
  let base = chunk * p.c_out * taps;
  for (var i = 0; i < 4; i++) {
    let co = co0 + i32(lid.y) * 4 + i;
    if (co >= p.c_out) { break; }
    for (var j = 0; j < 4; j++) {
      let t = tap0 + i32(lid.x) * 4 + j;
      if (t >= taps) { break; }
      out[base + co * taps + t] = acc[i][j];
    }
  }
}

// rows: unit column stride and dilation, kw ≤ 4. An invocation holds 4
// input channels × the row of taps kx = 0..3 at one ky × 8 output channels.
// Walking a row of output pixels, a channel's 4 taps read 4 neighbouring
// input columns that slide by one per pixel, so one x load per channel and
// pixel serves all its taps: per pixel 4 x and 8 g loads for 128
// multiply-adds (96 useful at kw = 3), against 8 x and 16 g for 128 in main
// at BLOCK 16. lavapipe: 1.06–1.26× over main at BLOCK 16 on the
// classifier's 32→64 and 64→128 layers (alternated, three rounds); the same
// with the taps as a loop over j ran at 1.06–1.13×, so they are written out.
// Grid: x over (block of 4 input channels, ky), WG per group; y over blocks
// of 8 output channels; z over chunks.
fn row_x(at: i32, c: i32) -> f32 {
  let live = c >= 0 && c < p.w;
  return select(0.0, x[select(0, at + c, live)], live);
}

fn row_window(at: i32, c: i32) -> vec4<f32> {
  return vec4<f32>(row_x(at, c), row_x(at, c + 1), row_x(at, c + 2), row_x(at, c + 3));
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let kk = p.kh * p.kw;
  let taps = p.c_in * kk;
  let tb = i32(gid.x);
  if (tb >= ((p.c_in + 3) / 4) * p.kh) { return; }
  let co0 = i32(wid.y) * 8;
  let chunk = i32(wid.z);
  let ky = tb % p.kh;
  let ci0 = (tb / p.kh) * 4;
  let plane = p.h * p.w;
  let plane_o = p.ho * p.wo;
  let xoff = min(vec4<i32>(ci0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_in - 1)) * plane;
  let gco = min(vec4<i32>(co0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let gco2 = min(vec4<i32>(co0 + 4) + vec4<i32>(0, 1, 2, 3), vec4<i32>(p.c_out - 1)) * plane_o;
  let rows = p.n * p.ho;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(r0 + p.rows_per_chunk, rows);
  // [tap kx][output channels 0..3] (a*) and [4..7] (b*), per input channel 0..3
  var a0: array<vec4<f32>, 4>;
  var b0: array<vec4<f32>, 4>;
  var a1: array<vec4<f32>, 4>;
  var b1: array<vec4<f32>, 4>;
  var a2: array<vec4<f32>, 4>;
  var b2: array<vec4<f32>, 4>;
  var a3: array<vec4<f32>, 4>;
  var b3: array<vec4<f32>, 4>;
  for (var r = r0; r < r1; r++) {
    let nn = r / p.ho;
    let oh = r - nn * p.ho;
    let ih = oh * p.sh - p.pad_h + ky * p.dh;
    if (ih < 0 || ih >= p.h) { continue; }
    let xrow = vec4<i32>(nn * p.c_in * plane + ih * p.w) + xoff;
    let grow = nn * p.c_out * plane_o + oh * p.wo;
    // pixel ow's tap kx reads column ow - pad_w + kx
    var c = -p.pad_w;
    var w0 = row_window(xrow.x, c);
    var w1 = row_window(xrow.y, c);
    var w2 = row_window(xrow.z, c);
    var w3 = row_window(xrow.w, c);
    for (var ow = 0; ow < p.wo; ow++) {
      let gi = grow + ow;
      let gv = vec4<f32>(g[gco.x + gi], g[gco.y + gi], g[gco.z + gi], g[gco.w + gi]);
      let gv2 = vec4<f32>(g[gco2.x + gi], g[gco2.y + gi], g[gco2.z + gi], g[gco2.w + gi]);
      a0[0] += w0.x * gv;
      b0[0] += w0.x * gv2;
      a1[0] += w1.x * gv;
      b1[0] += w1.x * gv2;
      a2[0] += w2.x * gv;
      b2[0] += w2.x * gv2;
      a3[0] += w3.x * gv;
      b3[0] += w3.x * gv2;
      a0[1] += w0.y * gv;
      b0[1] += w0.y * gv2;
      a1[1] += w1.y * gv;
      b1[1] += w1.y * gv2;
      a2[1] += w2.y * gv;
      b2[1] += w2.y * gv2;
      a3[1] += w3.y * gv;
      b3[1] += w3.y * gv2;
      a0[2] += w0.z * gv;
      b0[2] += w0.z * gv2;
      a1[2] += w1.z * gv;
      b1[2] += w1.z * gv2;
      a2[2] += w2.z * gv;
      b2[2] += w2.z * gv2;
      a3[2] += w3.z * gv;
      b3[2] += w3.z * gv2;
      a0[3] += w0.w * gv;
      b0[3] += w0.w * gv2;
      a1[3] += w1.w * gv;
      b1[3] += w1.w * gv2;
      a2[3] += w2.w * gv;
      b2[3] += w2.w * gv2;
      a3[3] += w3.w * gv;
      b3[3] += w3.w * gv2;
      c += 1;
      w0 = vec4<f32>(w0.yzw, row_x(xrow.x, c + 3));
      w1 = vec4<f32>(w1.yzw, row_x(xrow.y, c + 3));
      w2 = vec4<f32>(w2.yzw, row_x(xrow.z, c + 3));
      w3 = vec4<f32>(w3.yzw, row_x(xrow.w, c + 3));
    }
  }
  let base = chunk * p.c_out * taps;
  for (var i = 0; i < 4; i++) {
    let ci = ci0 + i;
    if (ci >= p.c_in) { break; }
    for (var kx = 0; kx < p.kw; kx++) {
      for (var cc = 0; cc < 8; cc++) {
        let co = co0 + cc;
        if (co >= p.c_out) { break; }
        var v: vec4<f32>;
        switch i {
          case 0: { v = select(b0[kx], a0[kx], cc < 4); }
          case 1: { v = select(b1[kx], a1[kx], cc < 4); }
          case 2: { v = select(b2[kx], a2[kx], cc < 4); }
          default: { v = select(b3[kx], a3[kx], cc < 4); }
        }
        out[base + co * taps + ci * kk + ky * p.kw + kx] = v[cc & 3];
      }
    }
  }
}
