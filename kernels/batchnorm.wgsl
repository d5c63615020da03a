// Batch normalisation over N and the spatial plane, per channel (NCHW).
// train_forward: one workgroup per channel computes the batch mean and the
//   biased variance (two passes: the variance sums squares of x − mean, which
//   stays accurate where E[x²] − E[x]² would cancel), writes them, and
//   normalises the channel.
// eval_forward: one invocation per element, from the running statistics.
// running: one invocation per channel, momentum update of the running
//   statistics in place, with the unbiased variance (as torch does).
// backward: one workgroup per channel: Σg and Σg·x̂ (= dbias, dweight), then
//   dx. TRAIN = 1 includes the terms that flow through the batch statistics.
// train_forward4, backward4: the same two with vec4 loads (planes of 4k values);
//   the split entries below have *4 forms too.
// stats_partial / stats_finish: the same two-pass statistics split over many
//   workgroups per channel (few channels over many elements would leave a GPU
//   nearly idle with one workgroup each); the normalisation then runs as
//   eval_forward, one invocation per element. A batch past the storage
//   binding limit runs the partial entries on ranges of images and adds
//   their partial sums before the finish.
// Each thread accumulates a strided slice serially; the 256 partial sums then
// meet in a pairwise tree, which keeps f32 rounding small for large N·H·W.
override AFFINE: u32 = 1u;
override TRAIN: u32 = 1u;

struct Params {
  n_batch: u32,
  channels: u32,
  plane: u32,
  eps: f32,
  momentum: f32,
  // count / (count - 1): biased → unbiased variance for the running estimate
  unbias: f32,
  // split entries only: elements per chunk, chunks per channel
  chunk_len: u32,
  n_chunks: u32,
  // values per channel the statistics are over: N·plane of the whole batch
  // (the split entries may be run on a range of it, n_batch images at a time)
  stat_count: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(6) var<storage, read> mean_in: array<f32>;
@group(0) @binding(7) var<storage, read> var_in: array<f32>;
@group(0) @binding(8) var<storage, read> g: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
@group(0) @binding(10) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(11) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(12) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(13) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(14) var<uniform> p: Params;
@group(0) @binding(15) var<storage, read_write> part_out: array<f32>;
@group(0) @binding(16) var<storage, read> part_in: array<f32>;

// stats_partial: MOMENT 1 sums x, MOMENT 2 sums (x − mean_in)².
override MOMENT: u32 = 1u;

const WG: u32 = 256u;
var<workgroup> part: array<vec2<f32>, 256>;

// Sum of v over the workgroup, returned to every invocation.
fn tree_sum(lid: u32, v: vec2<f32>) -> vec2<f32> {
  part[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier(); // part is reused by the next call
  return total;
}

// Flat offset of the r-th element (of N·plane) of channel c.
fn at(c: u32, r: u32) -> u32 {
  let n = r / p.plane;
  return (n * p.channels + c) * p.plane + (r - n * p.plane);
}

fn scale_of(c: u32) -> f32 { if (AFFINE == 1u) { return weight[c]; } return 1.0; }
fn shift_of(c: u32) -> f32 { if (AFFINE == 1u) { return bias[c]; } return 0.0; }

@compute @workgroup_size(256)
fn train_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.channels) { return; }
  let count = p.n_batch * p.plane;
  var acc = 0.0;
  for (var r = lid.x; r < count; r += WG) { acc += x[at(c, r)]; }
  let mu = tree_sum(lid.x, vec2<f32>(acc, 0.0)).x / f32(count);
  acc = 0.0;
  for (var r = lid.x; r < count; r += WG) {
    let d = x[at(c, r)] - mu;
    acc += d * d;
  }
  let variance = tree_sum(lid.x, vec2<f32>(acc, 0.0)).x / f32(count);
  let inv = inverseSqrt(variance + p.eps);
  let a = scale_of(c) * inv;
  let b = shift_of(c);
  for (var r = lid.x; r < count; r += WG) {
    let i = at(c, r);
    y[i] = (x[i] - mu) * a + b;
  }
  if (lid.x == 0u) {
    mean_out[c] = mu;
    var_out[c] = variance;
  }
}

fn eval_forward_item(i: u32) {
  let c = (i / p.plane) % p.channels;
  y[i] = (x[i] - mean_in[c]) * inverseSqrt(var_in[c] + p.eps) * scale_of(c) + shift_of(c);
}

@compute @workgroup_size(64)
fn eval_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n_batch * p.channels * p.plane; i += nwg.x * nwg.y * 64u) { eval_forward_item(i); }
}

@compute @workgroup_size(64)
fn running(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.channels) { return; }
  let m = p.momentum;
  run_mean[c] = (1.0 - m) * run_mean[c] + m * mean_in[c];
  run_var[c] = (1.0 - m) * run_var[c] + m * var_in[c] * p.unbias;
}

@compute @workgroup_size(256)
fn backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.channels) { return; }
  let count = p.n_batch * p.plane;
  let mu = mean_in[c];
  let inv = inverseSqrt(var_in[c] + p.eps);
  var acc = vec2<f32>(0.0, 0.0);
  for (var r = lid.x; r < count; r += WG) {
    let i = at(c, r);
    let gi = g[i];
    acc += vec2<f32>(gi, gi * (x[i] - mu) * inv);
  }
  let sums = tree_sum(lid.x, acc); // (Σg, Σg·x̂)
  let a = scale_of(c) * inv;
  let k = select(0.0, 1.0 / f32(count), TRAIN == 1u);
  for (var r = lid.x; r < count; r += WG) {
    let i = at(c, r);
    let xh = (x[i] - mu) * inv;
    // dx = γ·inv·(g − mean(g) − x̂·mean(g·x̂)) in training; γ·inv·g in eval
    dx[i] = a * (g[i] - k * (sums.x + xh * sums.y));
  }
  if (lid.x == 0u) {
    dbias[c] = sums.x;
    dweight[c] = sums.y;
  }
}

// train_forward4, backward4: the same for planes of a multiple of 4 values
// (every layer of the classifier), x, y, g and dx read and written as vec4.
// On a CPU driver each load is a loop over the lanes, so one for four values
// is what pays; the partial sums then run per component.
@group(0) @binding(17) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(18) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(19) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(20) var<storage, read_write> dx4: array<vec4<f32>>;

// Offset (in vec4s) of the r-th vec4 of channel c.
fn at4(c: u32, r: u32) -> u32 {
  let q = p.plane / 4u;
  let n = r / q;
  return (n * p.channels + c) * q + (r - n * q);
}

fn hsum(v: vec4<f32>) -> f32 { return (v[0] + v[1]) + (v[2] + v[3]); }

@compute @workgroup_size(256)
fn train_forward4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.channels) { return; }
  let count = p.n_batch * p.plane;
  var acc = vec4<f32>(0.0);
  for (var r = lid.x; r < count / 4u; r += WG) { acc += x4[at4(c, r)]; }
  let mu = tree_sum(lid.x, vec2<f32>(hsum(acc), 0.0)).x / f32(count);
  acc = vec4<f32>(0.0);
  for (var r = lid.x; r < count / 4u; r += WG) {
    let d = x4[at4(c, r)] - mu;
    acc += d * d;
  }
  let variance = tree_sum(lid.x, vec2<f32>(hsum(acc), 0.0)).x / f32(count);
  let a = scale_of(c) * inverseSqrt(variance + p.eps);
  let b = shift_of(c);
  for (var r = lid.x; r < count / 4u; r += WG) {
    let i = at4(c, r);
    y4[i] = (x4[i] - mu) * a + b;
  }
  if (lid.x == 0u) {
    mean_out[c] = mu;
    var_out[c] = variance;
  }
}

@compute @workgroup_size(256)
fn backward4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.channels) { return; }
  let count = p.n_batch * p.plane;
  let mu = mean_in[c];
  let inv = inverseSqrt(var_in[c] + p.eps);
  var sg = vec4<f32>(0.0);
  var sgx = vec4<f32>(0.0);
  for (var r = lid.x; r < count / 4u; r += WG) {
    let i = at4(c, r);
    let gi = g4[i];
    sg += gi;
    sgx += gi * (x4[i] - mu) * inv;
  }
  let sums = tree_sum(lid.x, vec2<f32>(hsum(sg), hsum(sgx))); // (Σg, Σg·x̂)
  let a = scale_of(c) * inv;
  let k = select(0.0, 1.0 / f32(count), TRAIN == 1u);
  for (var r = lid.x; r < count / 4u; r += WG) {
    let i = at4(c, r);
    let xh = (x4[i] - mu) * inv;
    dx4[i] = a * (g4[i] - k * (sums.x + xh * sums.y));
  }
  if (lid.x == 0u) {
    dbias[c] = sums.x;
    dweight[c] = sums.y;
  }
}

// Element range [start, end) of chunk k within a channel's N·plane values.
fn chunk_span(k: u32) -> vec2<u32> {
  let r0 = k * p.chunk_len;
  return vec2<u32>(r0, min(r0 + p.chunk_len, p.n_batch * p.plane));
}

// Workgroup (c, k) sums chunk k of channel c into part_out[c·n_chunks + k].
@compute @workgroup_size(256)
fn stats_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= p.channels * p.n_chunks) { return; }
  let c = flat / p.n_chunks;
  let span = chunk_span(flat % p.n_chunks);
  var mu = 0.0;
  if (MOMENT == 2u) { mu = mean_in[c]; }
  var acc = 0.0;
  for (var r = span.x + lid.x; r < span.y; r += WG) {
    let v = x[at(c, r)];
    if (MOMENT == 2u) { acc += (v - mu) * (v - mu); } else { acc += v; }
  }
  let total = tree_sum(lid.x, vec2<f32>(acc, 0.0)).x;
  if (lid.x == 0u) { part_out[flat] = total; }
}

// One invocation per channel: the chunk sums, divided by the count.
@compute @workgroup_size(64)
fn stats_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.channels) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.n_chunks; k++) { acc += part_in[c * p.n_chunks + k]; }
  mean_out[c] = acc / f32(p.stat_count);
}

// Backward split the same way: workgroup (c, k) sums (g, g·x̂) over chunk k
// into part_out[2·(c·n_chunks + k)], bwd_finish adds the chunks into dbias
// and dweight, bwd_apply forms dx one invocation per element.
@compute @workgroup_size(256)
fn bwd_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= p.channels * p.n_chunks) { return; }
  let c = flat / p.n_chunks;
  let span = chunk_span(flat % p.n_chunks);
  let mu = mean_in[c];
  let inv = inverseSqrt(var_in[c] + p.eps);
  var acc = vec2<f32>(0.0, 0.0);
  for (var r = span.x + lid.x; r < span.y; r += WG) {
    let i = at(c, r);
    let gi = g[i];
    acc += vec2<f32>(gi, gi * (x[i] - mu) * inv);
  }
  let total = tree_sum(lid.x, acc);
  if (lid.x == 0u) {
    part_out[2u * flat] = total.x;
    part_out[2u * flat + 1u] = total.y;
  }
}

@compute @workgroup_size(64)
fn bwd_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.channels) { return; }
  var acc = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < p.n_chunks; k++) {
    let j = 2u * (c * p.n_chunks + k);
    acc += vec2<f32>(part_in[j], part_in[j + 1u]);
  }
  dbias[c] = acc.x;
  dweight[c] = acc.y;
}

fn bwd_apply_item(i: u32) {
  let c = (i / p.plane) % p.channels;
  let inv = inverseSqrt(var_in[c] + p.eps);
  let xh = (x[i] - mean_in[c]) * inv;
  let k = select(0.0, 1.0 / f32(p.stat_count), TRAIN == 1u);
  // dbias = Σg and dweight = Σg·x̂ were written by bwd_finish; only read here
  dx[i] = scale_of(c) * inv * (g[i] - k * (dbias[c] + xh * dweight[c]));
}

@compute @workgroup_size(64)
fn bwd_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n_batch * p.plane * p.channels; i += nwg.x * nwg.y * 64u) { bwd_apply_item(i); }
}

// The split entries' vec4 forms, for planes of a multiple of 4 values (then
// every vec4 lies in one channel, and chunk_len is a multiple of 4): per four
// values one load of x (and g), one store, and one set of per-channel loads
// and one division instead of four. On a CPU driver each of those loads is
// a loop over the lanes.

// Channel of the j-th vec4 of the (range of the) batch.
fn channel4(j: u32) -> u32 { return ((4u * j) / p.plane) % p.channels; }

@compute @workgroup_size(64)
fn eval_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the vec4s: see gridStride (engine.ts)
  for (var j = gid.x + gid.y * nwg.x * 64u; j < p.n_batch * p.channels * (p.plane / 4u); j += nwg.x * nwg.y * 64u) {
    let c = channel4(j);
    let a = inverseSqrt(var_in[c] + p.eps) * scale_of(c);
    y4[j] = (x4[j] - mean_in[c]) * a + shift_of(c);
  }
}

@compute @workgroup_size(256)
fn stats_partial4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= p.channels * p.n_chunks) { return; }
  let c = flat / p.n_chunks;
  let span = chunk_span(flat % p.n_chunks) / 4u;
  var mu = 0.0;
  if (MOMENT == 2u) { mu = mean_in[c]; }
  var acc = vec4<f32>(0.0);
  for (var r = span.x + lid.x; r < span.y; r += WG) {
    let v = x4[at4(c, r)];
    if (MOMENT == 2u) { acc += (v - mu) * (v - mu); } else { acc += v; }
  }
  let total = tree_sum(lid.x, vec2<f32>(hsum(acc), 0.0)).x;
  if (lid.x == 0u) { part_out[flat] = total; }
}

@compute @workgroup_size(256)
fn bwd_partial4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= p.channels * p.n_chunks) { return; }
  let c = flat / p.n_chunks;
  let span = chunk_span(flat % p.n_chunks) / 4u;
  let mu = mean_in[c];
  let inv = inverseSqrt(var_in[c] + p.eps);
  var sg = vec4<f32>(0.0);
  var sgx = vec4<f32>(0.0);
  for (var r = span.x + lid.x; r < span.y; r += WG) {
    let i = at4(c, r);
    let gi = g4[i];
    sg += gi;
    sgx += gi * (x4[i] - mu) * inv;
  }
  let total = tree_sum(lid.x, vec2<f32>(hsum(sg), hsum(sgx)));
  if (lid.x == 0u) {
    part_out[2u * flat] = total.x;
    part_out[2u * flat + 1u] = total.y;
  }
}

@compute @workgroup_size(64)
fn bwd_apply4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = select(0.0, 1.0 / f32(p.stat_count), TRAIN == 1u);
  // lanes stride over the vec4s: see gridStride (engine.ts)
  for (var j = gid.x + gid.y * nwg.x * 64u; j < p.n_batch * p.channels * (p.plane / 4u); j += nwg.x * nwg.y * 64u) {
    let c = channel4(j);
    let inv = inverseSqrt(var_in[c] + p.eps);
    let xh = (x4[j] - mean_in[c]) * inv;
    // dbias = Σg and dweight = Σg·x̂ were written by bwd_finish; only read here
    dx4[j] = scale_of(c) * inv * (g4[j] - k * (dbias[c] + xh * dweight[c]));
  }
}
