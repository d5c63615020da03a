// Every WGSL kernel, imported as text (esbuild's text loader in bundles, a
// vitest transform in tests). Each becomes a Kernel that reflects its own
// bindings; this file is the only place a kernel file is named.
import { Kernel } from './kernel.js';
import binary from '../kernels/binary.wgsl';
import unary from '../kernels/unary.wgsl';
import layout from '../kernels/layout.wgsl';
import reduce from '../kernels/reduce.wgsl';
import matmul from '../kernels/matmul.wgsl';
import fill from '../kernels/fill.wgsl';

export const K = {
  binary: new Kernel('binary.wgsl', binary),
  unary: new Kernel('unary.wgsl', unary),
  layout: new Kernel('layout.wgsl', layout),
  reduce: new Kernel('reduce.wgsl', reduce),
  matmul: new Kernel('matmul.wgsl', matmul),
  fill: new Kernel('fill.wgsl', fill),
};
