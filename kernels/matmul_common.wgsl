// Shared by the matmul kernels (kernels.ts puts it in front of each, with
// matmul_operands.wgsl, or vec4 operands of the kernel's own): one
// contract, so the tuner can swap them. Batched C[b] = A[b] · B[b] (+ bias),
// A: M×K, B: K×N, any element strides (a transposed operand costs nothing).
struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  // element strides: A row, A col, A batch, then B, then C
  a_rs: u32, a_cs: u32, a_bs: u32,
  b_rs: u32, b_cs: u32, b_bs: u32,
  c_bs: u32,
  has_bias: u32,
}

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
