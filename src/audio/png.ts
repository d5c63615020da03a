// A picture of the classifier's image: the mel block above, the tempogram
// block below, a thin grey rule between them. Each block is drawn with its
// row 0 at the bottom of its panel (low frequencies and short lags low, as
// librosa's specshow draws them) and scaled to its own min…max, through a
// dark-to-bright colour ramp. Encoded with fast-png (pure JS, so the browser
// demo can draw the same picture).
import { encode } from 'fast-png';

// dark purple → red → orange → pale yellow (a magma-like ramp)
const STOPS: [number, number, number][] = [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]];

function colour(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  const a = STOPS[i], b = STOPS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f].map(Math.round) as [number, number, number];
}

const RULE = 2;

/** image [rows, frames] (row-major) with the first `split` rows the upper block → PNG bytes. */
export function imagePng(image: Float32Array, rows: number, frames: number, split: number): Uint8Array {
  if (image.length !== rows * frames) throw new Error(`sleeve: imagePng: ${image.length} values for [${rows}, ${frames}]`);
  const blocks = [[0, split], [split, rows]].filter(([a, b]) => b > a);
  const height = rows + RULE * (blocks.length - 1);
  const px = new Uint8Array(height * frames * 3);
  let y0 = 0;
  blocks.forEach(([a, b], bi) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = a * frames; i < b * frames; i++) {
      if (Number.isFinite(image[i])) {
        lo = Math.min(lo, image[i]);
        hi = Math.max(hi, image[i]);
      }
    }
    const span = hi > lo ? hi - lo : 1;
    for (let r = a; r < b; r++) {
      const y = y0 + (b - 1 - r); // row 0 of the block at its bottom
      for (let t = 0; t < frames; t++) {
        const [R, G, B] = colour((image[r * frames + t] - lo) / span);
        const o = (y * frames + t) * 3;
        px[o] = R;
        px[o + 1] = G;
        px[o + 2] = B;
      }
    }
    y0 += b - a;
    if (bi < blocks.length - 1) {
      px.fill(128, y0 * frames * 3, (y0 + RULE) * frames * 3);
      y0 += RULE;
    }
  });
  return encode({ width: frames, height, data: px, channels: 3, depth: 8 });
}
