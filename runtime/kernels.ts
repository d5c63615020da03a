// Every WGSL kernel, imported as text (esbuild's text loader in bundles, a
// vitest transform in tests). Each becomes a Kernel that reflects its own
// bindings; this file is the only place a kernel file is named.
import { Kernel } from './kernel.js';
import binary from '../kernels/binary.wgsl';
import unary from '../kernels/unary.wgsl';
import layout from '../kernels/layout.wgsl';
import reduce from '../kernels/reduce.wgsl';
import matmulParams from '../kernels/matmul_common.wgsl';
import matmulOperands from '../kernels/matmul_operands.wgsl';
import matmul from '../kernels/matmul.wgsl';
import matmulTiled from '../kernels/matmul_tiled.wgsl';
import matmulSubgroup from '../kernels/matmul_subgroup.wgsl';
import matmulTiled128 from '../kernels/matmul_tiled128.wgsl';
import fill from '../kernels/fill.wgsl';
import conv2dCommon from '../kernels/conv2d_common.wgsl';
import conv2d from '../kernels/conv2d.wgsl';
import conv2dSubgroup from '../kernels/conv2d_subgroup.wgsl';
import conv2dGrad from '../kernels/conv2d_grad.wgsl';
import batchnorm from '../kernels/batchnorm.wgsl';
import maxpool from '../kernels/maxpool.wgsl';
import dropout from '../kernels/dropout.wgsl';
import softmaxXent from '../kernels/softmax_xent.wgsl';
import fft from '../kernels/fft.wgsl';
import adam from '../kernels/adam.wgsl';
import sgd from '../kernels/sgd.wgsl';
import banded from '../kernels/banded.wgsl';
import polyphase from '../kernels/polyphase.wgsl';
import matmulSkinny from '../kernels/matmul_skinny.wgsl';
import { matmulSubgroup4Source } from './codegen/matmul_subgroup4.js';
import { conv2dRowsSource } from './codegen/conv2d_rows.js';

const matmulCommon = matmulParams + matmulOperands;

export const K = {
  binary: new Kernel('binary.wgsl', binary),
  unary: new Kernel('unary.wgsl', unary),
  layout: new Kernel('layout.wgsl', layout),
  reduce: new Kernel('reduce.wgsl', reduce),
  matmul: new Kernel('matmul.wgsl', matmulCommon + matmul),
  matmulTiled: new Kernel('matmul_tiled.wgsl', matmulCommon + matmulTiled),
  matmulTiled128: new Kernel('matmul_tiled128.wgsl', matmulCommon + matmulTiled128),
  matmulSubgroup: new Kernel('matmul_subgroup.wgsl', 'enable subgroups;\n' + matmulCommon + matmulSubgroup),
  matmulSubgroup4: new Kernel('matmul_subgroup4', 'enable subgroups;\n' + matmulParams + matmulSubgroup4Source(1), 'runtime/codegen/matmul_subgroup4.ts'),
  matmulSubgroup8: new Kernel('matmul_subgroup8', 'enable subgroups;\n' + matmulParams + matmulSubgroup4Source(2), 'runtime/codegen/matmul_subgroup4.ts'),
  fill: new Kernel('fill.wgsl', fill),
  conv2d: new Kernel('conv2d.wgsl', conv2dCommon + conv2d),
  // `enable` must open the module, before the shared part.
  conv2dSubgroup: new Kernel('conv2d_subgroup.wgsl', 'enable subgroups;\n' + conv2dCommon + conv2dSubgroup),
  conv2dGrad: new Kernel('conv2d_grad.wgsl', conv2dGrad),
  batchnorm: new Kernel('batchnorm.wgsl', batchnorm),
  maxpool: new Kernel('maxpool.wgsl', maxpool),
  dropout: new Kernel('dropout.wgsl', dropout),
  softmaxXent: new Kernel('softmax_xent.wgsl', softmaxXent),
  fft: new Kernel('fft.wgsl', fft),
  adam: new Kernel('adam.wgsl', adam),
  sgd: new Kernel('sgd.wgsl', sgd),
  banded: new Kernel('banded.wgsl', banded),
  polyphase: new Kernel('polyphase.wgsl', polyphase),
};

// matmul_skinny.wgsl, one kernel per row count, made when first asked for.
const skinnyKernels = new Map<number, Kernel>();
export function matmulSkinnyKernel(rows: number): Kernel {
  let k = skinnyKernels.get(rows);
  if (!k) {
    k = new Kernel(`matmul_skinny_r${rows}`, `const ROWS: u32 = ${rows}u;\n` + matmulSkinny, 'kernels/matmul_skinny.wgsl');
    skinnyKernels.set(rows, k);
  }
  return k;
}

// fwd_rows, one kernel per kernel width and column stride, made when first asked for.
const rowsKernels = new Map<string, Kernel>();
export function conv2dRowsKernel(kw: number, sw: number): Kernel {
  const name = sw === 1 ? `conv2d_rows_k${kw}` : `conv2d_rows_k${kw}_s${sw}`;
  let k = rowsKernels.get(name);
  if (!k) {
    k = new Kernel(name, 'enable subgroups;\n' + conv2dCommon + conv2dSubgroup + conv2dRowsSource(kw, sw), 'runtime/codegen/conv2d_rows.ts');
    rowsKernels.set(name, k);
  }
  return k;
}

/** The kernel of this name (Kernel.file): a fixed one, or one made on demand
 * (`conv2d_rows_k3_s2`, `matmul_skinny_r5`); undefined for any other name. */
export function kernelNamed(name: string): Kernel | undefined {
  const fixed = Object.values(K).find((k) => k.file === name);
  if (fixed) return fixed;
  const rows = /^conv2d_rows_k([1-9]\d?)(?:_s([1-9]\d?))?$/.exec(name);
  if (rows) return conv2dRowsKernel(Number(rows[1]), Number(rows[2] ?? 1));
  const skinny = /^matmul_skinny_r([1-9]\d?)$/.exec(name);
  if (skinny && Number(skinny[1]) <= 16) return matmulSkinnyKernel(Number(skinny[1]));
  return undefined;
}

/** Every kernel made so far: the fixed ones and those made on demand. */
export function kernelsMade(): Kernel[] {
  return [...Object.values(K), ...rowsKernels.values(), ...skinnyKernels.values()];
}
