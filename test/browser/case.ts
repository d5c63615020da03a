// The computation the browser test runs twice: in Chromium against the browser
// bundle, and in Node against Dawn. It takes the runtime as an argument and
// imports nothing at run time, so esbuild can serve it to the page on its own.
import type * as Runtime from '../../runtime/index.js';

export interface CaseInput {
  a: number[];
  aShape: number[];
  b: number[];
  bShape: number[];
}

export interface CaseOutput {
  adapter: { vendor: string; architecture: string; description: string };
  /** c = a·b (batched over a's leading axis) */
  matmul: number[];
  /** Σ tanh(c) */
  loss: number;
  /** ∂loss/∂a and ∂loss/∂b */
  gradA: number[];
  gradB: number[];
  /** ∂(Σ (∂loss/∂a)²)/∂b: a gradient of a gradient, through the tape kept by createGraph */
  gradGradB: number[];
}

export async function runCase(sl: typeof Runtime, input: CaseInput): Promise<CaseOutput> {
  await sl.init();
  const a = sl.tensor(Float32Array.from(input.a), input.aShape).requiresGrad_();
  const b = sl.tensor(Float32Array.from(input.b), input.bShape).requiresGrad_();
  const c = sl.matmul(a, b);
  const loss = sl.sum(sl.tanh(c));
  const [gA, gB] = sl.grad(loss, [a, b]);
  const [gAkept] = sl.grad(sl.sum(sl.tanh(sl.matmul(a, b))), [a], { createGraph: true });
  const [ggB] = sl.grad(sl.sum(sl.square(gAkept!)), [b]);
  const info = sl.adapterInfo();
  return {
    adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description },
    matmul: Array.from(await c.read()),
    loss: await loss.item(),
    gradA: Array.from(await gA!.read()),
    gradB: Array.from(await gB!.read()),
    gradGradB: Array.from(await ggB!.read()),
  };
}
