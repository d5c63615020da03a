// The classifier's input windows: the image cut into slices `width` frames
// wide every `hop` frames (default 258 ≈ 6 s, non-overlapping), taken in one
// strided copy. A clip shorter than one slice is padded with padValue (0: the
// floor of both normalised blocks) and flagged, never dropped.
import { pad, reshape, type Tensor } from '../../runtime/index.js';
import { asStrided } from './frame.js';

export interface SliceOptions {
  /** Frames per slice. */
  width: number;
  /** Frames between slice starts (width: no overlap; smaller: overlapping, for training). */
  hop: number;
  /** Value for frames added to a clip shorter than one slice. */
  padValue: number;
}

export interface SlicePlan {
  count: number;
  /** First frame of each slice. */
  starts: number[];
  /** The clip was shorter than one slice and was padded to fill it. */
  padded: boolean;
  /** Frames of the clip after the last slice (not covered by any). */
  uncovered: number;
}

/** Where the slices of a clip of `frames` frames fall. */
export function planSlices(frames: number, o: SliceOptions): SlicePlan {
  if (frames < 1) throw new Error(`sleeve: slices: the clip has no frames`);
  if (frames <= o.width) return { count: 1, starts: [0], padded: frames < o.width, uncovered: 0 };
  const count = 1 + Math.floor((frames - o.width) / o.hop);
  const starts = Array.from({ length: count }, (_, i) => i * o.hop);
  return { count, starts, padded: false, uncovered: frames - (starts[count - 1] + o.width) };
}

export interface Slices extends SlicePlan {
  /** [count, 1, rows, width] (NCHW, one channel) */
  tensor: Tensor;
}

/** image [rows, frames] → slices [count, 1, rows, width]. */
export function sliceImage(image: Tensor, o: SliceOptions): Slices {
  if (image.rank !== 2) throw new Error(`sleeve: sliceImage: expects an image [rows, frames], got ${image.describe()}`);
  const [rows, frames] = image.shape;
  const plan = planSlices(frames, o);
  const src = plan.padded ? pad(image, [[0, 0], [0, o.width - frames]], o.padValue) : image;
  const T = src.shape[1];
  const cut = asStrided(src, [plan.count, rows, o.width], [o.hop, T, 1]);
  if (src !== image) src.dispose();
  return { ...plan, tensor: reshape(cut, [plan.count, 1, rows, o.width]) };
}
