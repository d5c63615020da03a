// The operands as scalars, any element strides (after matmul_common.wgsl).
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
