// The cover generator of the conditional WGAN-GP: a noise vector z and the
// genre as a one-hot row, concatenated (100 + 10 = 110), → linear → 128 ×
// 25 × 25 → batchnorm → leaky ReLU (0.2) → transposed conv 5×5 stride 2 →
// 64 × 50 × 50 → batchnorm → leaky ReLU → transposed conv 5×5 stride 2 →
// 3 × 100 × 100 → tanh: an RGB cover with values in [−1, 1]. The same
// network as the bench's generator-forward, with torch.nn's names.
import { concat, nn, reshape, type Tensor } from '../../runtime/index.js';

export interface GeneratorConfig {
  /** Length of z. Default 100. */
  zDim?: number;
  /** Genres it is conditioned on. Default 10. */
  classes?: number;
}

/** The cover's side in pixels. */
export const COVER_SIZE = 100;

export class CoverGenerator extends nn.Module {
  readonly zDim: number;
  readonly classes: number;
  readonly project: nn.Linear;
  readonly body: nn.Sequential;

  constructor(cfg: GeneratorConfig = {}) {
    super();
    this.zDim = cfg.zDim ?? 100;
    this.classes = cfg.classes ?? 10;
    const s = COVER_SIZE / 4;
    this.project = this.register('project', new nn.Linear(this.zDim + this.classes, 128 * s * s));
    const up = { stride: 2, padding: 2, outputPadding: 1 };
    this.body = this.register('body', new nn.Sequential(
      new nn.BatchNorm2d(128), new nn.LeakyReLU(0.2),
      new nn.ConvTranspose2d(128, 64, 5, up), new nn.BatchNorm2d(64), new nn.LeakyReLU(0.2),
      new nn.ConvTranspose2d(64, 3, 5, up), new nn.Tanh(),
    ));
  }

  /** z [N, zDim] and one-hot genres [N, classes] → covers [N, 3, 100, 100] in [−1, 1]. */
  forward(z: Tensor, genres: Tensor): Tensor {
    const n = z.shape[0];
    if (z.rank !== 2 || z.shape[1] !== this.zDim) throw new Error(`sleeve: CoverGenerator: z must be [N, ${this.zDim}], got ${z.describe()}`);
    if (genres.rank !== 2 || genres.shape[0] !== n || genres.shape[1] !== this.classes) {
      throw new Error(`sleeve: CoverGenerator: genres must be one-hot rows [${n}, ${this.classes}], got ${genres.describe()}`);
    }
    const s = COVER_SIZE / 4;
    const h = reshape(this.project.call(concat([z, genres], 1)), [n, 128, s, s]);
    return this.body.call(h);
  }

  protected extraRepr(): string {
    return `zDim=${this.zDim}, classes=${this.classes}`;
  }
}
