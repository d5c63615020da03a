// The strided copy behind permute, broadcast, slice, pad and asStrided (one
// kernel, layout.wgsl). Internal: the public ops are in shape.ts and frames.ts.
import { getEngine, gridStride } from '../engine.js';
import { K } from '../kernels.js';
import { empty, type Tensor } from '../tensor.js';
import { checkRank, pad8 } from './util.js';
import { rowRanges, rowsOf } from './split.js';

export interface Gather {
  outShape: number[];
  strides: number[];
  offset: number;
  lo?: number[];
  extent?: number[];
  padValue?: number;
}

/** out[i] = x[offset + Σ (iₖ − loₖ)·stridesₖ], or padValue where a coordinate leaves [0, extentₖ). */
export function gather(x: Tensor, g: Gather): Tensor {
  checkRank(g.outShape, 'layout');
  const out = empty(g.outShape);
  if (out.size === 0) return out;
  // An output past the binding limit is written a range of rows at a time;
  // the input is bound whole (and must fit).
  const row = out.rank ? out.size / g.outShape[0] : 1;
  const ranges = out.rank ? rowRanges(g.outShape[0], [row], 'layout', () => `output ${out.describe()}`) : [{ start: 0, count: 1 }];
  for (const r of ranges) {
    getEngine().dispatch(K.layout, {
      buffers: { x: x.buffer, out: ranges.length === 1 ? out.buffer : rowsOf(out, r, row) },
      uniforms: {
        n: r.count * row, rank: g.outShape.length, offset: g.offset, pad_value: g.padValue ?? 0, row0: r.start,
        out_shape: pad8([r.count, ...g.outShape.slice(1)]), in_strides: pad8(g.strides),
        lo: pad8(g.lo ?? g.outShape.map(() => 0)), extent: pad8(g.extent ?? g.outShape),
      },
      workgroups: gridStride(r.count * row),
    });
  }
  return out;
}
