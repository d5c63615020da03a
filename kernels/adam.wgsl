// One fused Adam step for one parameter: reads the gradient, updates the two
// moment buffers and the parameter in place, all in a single pass over memory.
// Bias corrections are folded into step_size = lr / (1 - β1^t) and
// bc2_sqrt = sqrt(1 - β2^t), computed in f64 on the host.
// DECOUPLED: 0 = Adam (L2 weight decay added to the gradient, as torch.optim.Adam),
//            1 = AdamW (param scaled by 1 - lr·wd before the update, as torch.optim.AdamW)
override DECOUPLED: u32 = 0u;

struct Params { n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, step_size: f32, bc2_sqrt: f32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn item(i: u32) {
  var x = param[i];
  var g = grad[i];
  if (DECOUPLED == 1u) {
    x = x * (1.0 - p.lr * p.weight_decay);
  } else {
    g = g + p.weight_decay * x;
  }
  let m = p.beta1 * exp_avg[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * exp_avg_sq[i] + (1.0 - p.beta2) * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  param[i] = x - p.step_size * m / (sqrt(v) / p.bc2_sqrt + p.eps);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // lanes stride over the items: see gridStride (engine.ts)
  for (var i = gid.x + gid.y * nwg.x * 64u; i < p.n; i += nwg.x * nwg.y * 64u) { item(i); }
}
