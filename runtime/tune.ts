// Kernel variants chosen per adapter by measurement, not by guess: CPU
// Vulkan drivers (lavapipe) run the register-blocked matmul ~10× faster than
// a shared-memory tile, GPUs the reverse. tune() times each candidate once on
// a representative size and remembers the winner for this adapter.
import { adapterInfo } from './device.js';
import { getEngine } from './engine.js';

export type MatmulVariant = 'blocked' | 'tiled';

export interface TuneResult {
  adapter: string;
  matmul: MatmulVariant;
  timings: Record<string, number>;
}

const choice: { matmul: MatmulVariant } = { matmul: 'blocked' };
const cache = new Map<string, TuneResult>();

export function matmulVariant(): MatmulVariant {
  return choice.matmul;
}

/** Force a variant (benchmarks compare them; tests cover both). */
export function setMatmulVariant(v: MatmulVariant): void {
  choice.matmul = v;
}

type Runner = (variant: MatmulVariant) => void;
let matmulRunner: Runner | null = null;

/** ops/matmul.ts registers how to run one product of the probe size. */
export function registerMatmulProbe(r: Runner): void {
  matmulRunner = r;
}

async function timeIt(run: () => void, reps: number): Promise<number> {
  const e = getEngine();
  run();
  await e.sync(); // warm-up: pipeline compilation
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  await e.sync();
  return (performance.now() - t0) / reps;
}

/** Measure the candidates on this adapter and keep the fastest. */
export async function tune(): Promise<TuneResult> {
  const info = adapterInfo();
  const key = `${info.vendor}|${info.architecture}|${info.description}|${info.device}`;
  const hit = cache.get(key);
  if (hit) {
    choice.matmul = hit.matmul;
    return hit;
  }
  const timings: Record<string, number> = {};
  if (matmulRunner) {
    // Alternate the candidates over several rounds and keep each one's best
    // round: a burst of load from another process then hits both alike.
    const variants = ['blocked', 'tiled'] as const;
    for (const v of variants) timings[`matmul:${v}`] = Infinity;
    for (let round = 0; round < 3; round++) {
      for (const v of variants) {
        const t = await timeIt(() => matmulRunner!(v), 2);
        timings[`matmul:${v}`] = Math.min(timings[`matmul:${v}`], t);
      }
    }
    choice.matmul = timings['matmul:tiled'] < timings['matmul:blocked'] ? 'tiled' : 'blocked';
  }
  const result = { adapter: info.description || key, matmul: choice.matmul, timings };
  cache.set(key, result);
  return result;
}
