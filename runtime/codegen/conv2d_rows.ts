// WGSL of `fwd_rows`: conv2d_subgroup.wgsl's forward for dilation-1
// columns, written out by code for one kernel width KW and column stride SW
// (the taps along a row are unrolled, so the weights of a row of taps stay
// in variables: as private arrays indexed by a loop counter lavapipe keeps
// them in memory and gathers them lane by lane).
//
// Contract: appended to conv2d_common.wgsl + conv2d_subgroup.wgsl (kernels.ts),
// whose parameters, bindings, accumulators, tap(), block_base(),
// block_weights() and store_masked() it uses; ops/conv.ts sends only dw = 1, kw = KW, sw = SW,
// and sizes the grid with ROWS_PIXELS pixels per invocation.
//
// Why: fwd gives an invocation 4 pixels WG apart and loads each pixel value
// afresh at every tap, 4 loads per tap and channel. Here an invocation takes
// 4 neighbouring pixels of one output row. Pixel j reads column
// iw0 + SW·j + kx at tap kx, so at tap kx + SW pixels 0..2 read what pixels
// 1..3 read at kx, and one load brings pixel 3's value: the taps go in
// chains kx = c, c + SW, … (c < SW), 4 loads to start a chain and 1 per
// further tap. At 3×3 stride 1 that is 6 loads per row of taps instead of
// 12; at 5×5 stride 2, 11 instead of 20. Weights arrive as in fwd: lane l of
// each group of 8 loads the channel r0 + l's weights of the whole row of
// taps, and each of the 8 steps takes them with subgroupBroadcast.

/** Output pixels per invocation (ops/conv.ts sizes the grid with it). */
export const ROWS_PIXELS = 4;

/** Widths and column strides with a generated kernel; others run `fwd`. */
export const ROWS_MAX_KW = 7;
export const ROWS_MAX_SW = 2;

export function conv2dRowsSource(kw: number, sw = 1): string {
  if (!Number.isInteger(kw) || kw < 1 || kw > ROWS_MAX_KW) throw new Error(`conv2dRowsSource: kernel width ${kw} not in 1..${ROWS_MAX_KW}`);
  if (!Number.isInteger(sw) || sw < 1 || sw > ROWS_MAX_SW) throw new Error(`conv2dRowsSource: column stride ${sw} not in 1..${ROWS_MAX_SW}`);
  const taps = Array.from({ length: kw }, (_, k) => k);
  // chains of taps c, c + sw, …: each starts with 4 loads, then 1 per tap
  const chains = Array.from({ length: Math.min(sw, kw) }, (_, c) => taps.filter((k) => k % sw === c));
  const out: string[] = [];
  out.push(`
// One input value of the row at column c, zero outside the image, past the
// last channel, and in rows outside it (ok false).
fn row_px(at: i32, c: i32, ok: bool) -> f32 {
  let live = ok && c >= 0 && c < p.w;
  return select(0.0, src[select(0, at + c, live)], live);
}

// Channel r0 + i of the chunk, one row of taps: the 4 pixels' values slide
// along the row; W is the row of taps' weights, each step broadcasts lane i's.
`);
  const wParams = taps.map((k) => `w${k}: BlockW`).join(', ');
  for (let i = 0; i < 8; i++) {
    out.push(`fn row_chan${i}(at: i32, iw0: i32, ok: bool, ${wParams}) {
  var v: vec4<f32>;`);
    for (const chain of chains) {
      out.push(`  {
    let cols = vec4<i32>(iw0 + ${chain[0]}) + vec4<i32>(0, ${sw}, ${2 * sw}, ${3 * sw});
    let ok4 = vec4<bool>(ok) & in_range(cols, p.w);
    let o = select(vec4<i32>(0), vec4<i32>(at) + cols, ok4);
    v = select(vec4<f32>(0.0), vec4<f32>(src[o.x], src[o.y], src[o.z], src[o.w]), ok4);
  }`);
      chain.forEach((k, m) => {
        out.push(`  tap(v, subgroupBroadcast(w${k}.a, ${i}u), subgroupBroadcast(w${k}.b, ${i}u), subgroupBroadcast(w${k}.c, ${i}u), subgroupBroadcast(w${k}.d, ${i}u));`);
        if (m < chain.length - 1) out.push(`  v = vec4<f32>(v.yzw, row_px(at, iw0 + ${k + 4 * sw}, ok));`);
      });
    }
    out.push('}\n');
  }
  out.push(`// y = conv(x, w) + bias for dw = 1, sw = ${sw} and kw = ${kw}. Invocation g
// takes pixels 4s .. 4s + 3 of output row r, s and r from g (a row holds
// ceil(wo / 4) such segments); pixels past the row's end are computed on
// zeros and not stored. Pixels go where p.y_* place them. No early return
// (subgroupBroadcast).
@compute @workgroup_size(64)
fn fwd_rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let segs = (p.wo + 3) / 4;
  let rows = p.n * p.ho;
  let g = min(i32(wid.x + wid.y * nwg.x) * WG + i32(lid.x), rows * segs - 1);
  let live = i32(wid.x + wid.y * nwg.x) * WG + i32(lid.x) < rows * segs;
  let r = g / segs;
  let ow0 = (g - r * segs) * 4;
  let nn = r / p.ho;
  let oh = r - nn * p.ho;
  let co0 = i32(wid.z) * BLOCK;
  let plane = p.h * p.w;
  let kk = p.kh * p.kw;
  let wrow = block_base(co0, p.c_out - 1, p.c_in * kk);
  let iw0 = ow0 * ${sw} - p.pad_w;
  let xb = nn * p.c_in * plane;
  rlen = p.c_in;
  let lane = i32(sl % 8u);
  for (var ky = 0; ky < p.kh; ky++) {
    let ih = oh * p.sh - p.pad_h + ky * p.dh;
    let row_ok = ih >= 0 && ih < p.h;
    let at_row = xb + select(0, ih, row_ok) * p.w;
    for (var c0 = 0; c0 < p.c_in; c0 += 8) {`);
  for (const k of taps) {
    out.push(`      let w${k} = block_weights(wrow, ky * p.kw + ${k}, c0 + lane, kk);`);
  }
  const ws = taps.map((k) => `w${k}`).join(', ');
  for (let i = 0; i < 8; i++) {
    out.push(`      row_chan${i}(at_row + min(c0 + ${i}, p.c_in - 1) * plane, iw0, row_ok && c0 + ${i} < p.c_in, ${ws});`);
  }
  out.push(`    }
  }
  let ow = vec4<i32>(ow0) + vec4<i32>(0, 1, 2, 3);
  let ob = vec4<i32>(nn * p.y_image + p.y_off + oh * p.y_row) + ow * p.y_col;
  store_masked(ob, co0, p.y_plane, p.c_out, vec4<bool>(live) & (ow < vec4<i32>(p.wo)));
}
`);
  return out.join('\n');
}
