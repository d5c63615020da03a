// The genre classifier: three blocks of conv 3×3 (padding 1) → batchnorm →
// leaky ReLU (0.01) → max-pool 2×2, then one linear layer to the genre
// logits. Input: slices of the feature image, [N, 1, rows, width] (128 × 258
// by default: 64 mel bands over 64 tempogram lags, ≈ 6 s). The same network
// as the bench's classifier step, with torch.nn's names, so a checkpoint maps
// key for key ('features.0.weight', …, 'head.weight').
import { nn, type Tensor } from '../../runtime/index.js';

/** GTZAN's ten genres, in the order of the classifier's outputs. */
export const GENRES = ['blues', 'classical', 'country', 'disco', 'hiphop', 'jazz', 'metal', 'pop', 'reggae', 'rock'] as const;

export interface ClassifierConfig {
  /** Rows of a slice (the feature image's rows). Default 128. */
  rows?: number;
  /** Frames of a slice. Default 258. */
  width?: number;
  /** Output classes. Default 10 (GENRES). */
  classes?: number;
  /** Channels of the three conv blocks. Default [32, 64, 128]. */
  channels?: [number, number, number];
}

export class GenreClassifier extends nn.Module {
  readonly rows: number;
  readonly width: number;
  readonly classes: number;
  readonly features: nn.Sequential;
  readonly flatten = this.register('flatten', new nn.Flatten());
  readonly head: nn.Linear;

  constructor(cfg: ClassifierConfig = {}) {
    super();
    this.rows = cfg.rows ?? 128;
    this.width = cfg.width ?? 258;
    this.classes = cfg.classes ?? GENRES.length;
    const ch = cfg.channels ?? [32, 64, 128];
    let h = this.rows, w = this.width, cin = 1;
    const layers: nn.Module[] = [];
    for (const c of ch) {
      layers.push(new nn.Conv2d(cin, c, 3, { padding: 1 }), new nn.BatchNorm2d(c), new nn.LeakyReLU(0.01), new nn.MaxPool2d(2));
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      cin = c;
    }
    if (h < 1 || w < 1) throw new Error(`sleeve: GenreClassifier: a ${this.rows} × ${this.width} slice is too small for three 2×2 pools`);
    this.features = this.register('features', new nn.Sequential(...layers));
    this.head = this.register('head', new nn.Linear(cin * h * w, this.classes));
  }

  /** x [N, 1, rows, width] → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== 1 || x.shape[2] !== this.rows || x.shape[3] !== this.width) {
      throw new Error(`sleeve: GenreClassifier: expected slices [N, 1, ${this.rows}, ${this.width}], got ${x.describe()}`);
    }
    return this.head.call(this.flatten.call(this.features.call(x)));
  }

  protected extraRepr(): string {
    return `rows=${this.rows}, width=${this.width}, classes=${this.classes}`;
  }
}
