// Optimisers (torch.optim names and defaults).
export { Optimizer, type OptimizerStateDict, type Hyper } from './optimizer.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { SGD, type SGDOptions } from './sgd.js';
