// One fused SGD step for one parameter, in place (torch.optim.SGD's formulas):
//   d = grad + wd·param
//   buf = d on the first step, else momentum·buf + (1 - dampening)·d
//   d = d + momentum·buf (nesterov) or buf
//   param -= lr·d
// Entry `plain` has no momentum buffer; `momentum` keeps one (NESTEROV selects the variant).
override NESTEROV: u32 = 0u;

struct Params { n: u32, lr: f32, momentum: f32, dampening: f32, weight_decay: f32, first: u32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> momentum_buf: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn plain_item(i: u32) {
  let x = param[i];
  param[i] = x - p.lr * (grad[i] + p.weight_decay * x);
}

@compute @workgroup_size(64)
fn plain(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { plain_item(i); }
}

fn momentum_item(i: u32) {
  let x = param[i];
  let d = grad[i] + p.weight_decay * x;
  var b = d;
  if (p.first == 0u) { b = p.momentum * momentum_buf[i] + (1.0 - p.dampening) * d; }
  momentum_buf[i] = b;
  var step = b;
  if (NESTEROV == 1u) { step = d + p.momentum * b; }
  param[i] = x - p.lr * step;
}

@compute @workgroup_size(64)
fn momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { momentum_item(i); }
}
