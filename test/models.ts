// Small models shared by the nn tests.
import type { Tensor } from '../runtime/tensor.js';
import * as nn from '../runtime/nn/index.js';

/** conv → batchnorm → leaky-ReLU → max-pool → linear, for 1×12×12 inputs and 3 classes. */
export class SmallNet extends nn.Module {
  features = this.register('features', new nn.Sequential(
    new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.LeakyReLU(0.2), new nn.MaxPool2d(2),
  ));
  flatten = this.register('flatten', new nn.Flatten());
  head = this.register('head', new nn.Linear(4 * 5 * 5, 3));

  forward(x: Tensor): Tensor {
    return this.head.call(this.flatten.call(this.features.call(x)));
  }
}
