// Softmax cross-entropy over rows of logits [rows, cols] with integer class
// labels stored as f32, optionally label-smoothed (target = (1−ε)·onehot + ε/C).
// forward:  one workgroup per row: max, Σexp(x − max) and Σx by tree
//           reductions; loss = log Σexp(x − m) − (1−ε)(x_y − m) − ε·mean(x − m).
//           Subtracting the max first keeps exp finite for any logits, and
//           the loss never forms lse − x_y from two large numbers.
// backward: one workgroup per row: dx = g_row · (softmax − target).
// target:   one invocation per element: the (smoothed) one-hot target.
// Labels are clamped into [0, cols): a bad label cannot read out of bounds
// (host-side label arrays are checked before they get here).
struct Params { rows: u32, cols: u32, smoothing: f32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> onehot_out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WG: u32 = 64u;
var<workgroup> part: array<f32, 64>;

fn label_of(row: u32) -> u32 {
  let l = labels[row];
  return u32(clamp(select(0.0, l, l == l), 0.0, f32(p.cols - 1u)));
}

fn tree(lid: u32, v: f32, is_max: bool) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      part[lid] = select(part[lid] + part[lid + s], max(part[lid], part[lid + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

fn row_max(lid: u32, base: u32) -> f32 {
  var m = -3.4028234663852886e38;
  for (var j = lid; j < p.cols; j += WG) { m = max(m, logits[base + j]); }
  return tree(lid, m, true);
}

@compute @workgroup_size(64)
fn forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let m = row_max(lid.x, base);
  var se = 0.0;
  var sx = 0.0;
  for (var j = lid.x; j < p.cols; j += WG) {
    let d = logits[base + j] - m;
    se += exp(d);
    sx += d;
  }
  let total_exp = tree(lid.x, se, false);
  let total_x = tree(lid.x, sx, false);
  if (lid.x == 0u) {
    let eps = p.smoothing;
    let xy = logits[base + label_of(row)] - m;
    loss[row] = log(total_exp) - (1.0 - eps) * xy - eps * total_x / f32(p.cols);
  }
}

@compute @workgroup_size(64)
fn backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let m = row_max(lid.x, base);
  var se = 0.0;
  for (var j = lid.x; j < p.cols; j += WG) { se += exp(logits[base + j] - m); }
  let inv = 1.0 / tree(lid.x, se, false);
  let y = label_of(row);
  let gr = g[row];
  let off = p.smoothing / f32(p.cols);
  for (var j = lid.x; j < p.cols; j += WG) {
    let t = select(off, 1.0 - p.smoothing + off, j == y);
    dlogits[base + j] = gr * (exp(logits[base + j] - m) * inv - t);
  }
}

fn onehot_item(i: u32) {
  let row = i / p.cols;
  let j = i - row * p.cols;
  let off = p.smoothing / f32(p.cols);
  onehot_out[i] = select(off, 1.0 - p.smoothing + off, j == label_of(row));
}

@compute @workgroup_size(64)
fn onehot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.rows * p.cols; i += nwg.x * nwg.y * 64u) { onehot_item(i); }
}
