// torch.nn for sleeve: Module and the layers, with torch's names and defaults.
export { Module, type StateDict, type LoadResult } from './module.js';
export {
  Linear, Embedding, ReLU, LeakyReLU, Tanh, Sigmoid, Identity, MaxPool2d, Dropout, Flatten, Sequential, uniformInit,
} from './layers.js';
export { Conv2d, ConvTranspose2d, type Conv2dConfig, type ConvTranspose2dConfig } from './conv.js';
export { BatchNorm2d, type BatchNormConfig } from './batchnorm.js';
export { oneHot } from './functional.js';
