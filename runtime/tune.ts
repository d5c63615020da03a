// Kernel variants chosen per adapter by measurement, not by guess: CPU
// Vulkan drivers (lavapipe) run the register-blocked matmul faster than a
// shared-memory tile and batch statistics faster with one workgroup per
// channel; GPUs want the opposite. Each op registers a probe (its candidates,
// how to run one, how to select one); tune() times the candidates on this
// adapter and keeps the fastest.
import { adapterInfo, hasSubgroups } from './device.js';
import { getEngine, getGridStride, setGridStride, type GridStride } from './engine.js';
import { K } from './kernels.js';

export type MatmulVariant = 'blocked' | 'tiled' | 'tiled128' | 'subgroup' | 'subgroup4' | 'subgroup8';
export type ConvVariant = 'plain' | 'subgroup' | 'subgroup16' | 'rows16';
export type ConvGradVariant = 'direct' | 'direct16' | 'rows' | 'tiled';
/** How elementwise kernels spread their items (engine.ts gridStride): one per
 * lane, or at least 4 (at most 16384 workgroups) or 16 (at most 4096) items
 * per lane. */
export type GridVariant = 'lane' | 'stride4' | 'stride16';

export interface TuneResult {
  adapter: string;
  /** chosen variant per probe, e.g. { matmul: 'tiled', batchnorm: 'split' } */
  chosen: Record<string, string>;
  /** the matmul choice (kept for callers of earlier versions) */
  matmul: MatmulVariant;
  timings: Record<string, number>;
  /** per-shape choices from tuneShapes(): "family|shape" → variant */
  shapes?: Record<string, string>;
}

export interface Probe {
  variants: readonly string[];
  /** leave the whole probe out, given the timings so far (keeping its current choice) */
  skip?: (timings: Record<string, number>) => boolean;
  /** a candidate this device cannot run is left out (default: all can) */
  available?: (variant: string) => boolean;
  run: (variant: string) => void;
  select: (variant: string) => void;
  /** keep the first candidate unless another is faster by this fraction of
   * its time (0.25: a quarter); default 0, the fastest wins */
  margin?: number;
}

const probes = new Map<string, Probe>();
const cache = new Map<string, TuneResult>();
/** The key of the result tune() last set up (tuneShapes adds to it). */
let currentKey: string | null = null;

/**
 * Where tune() keeps results between processes (as Burn keeps its autotune
 * cache): the Node entry stores them in a file, a page may use localStorage.
 * Keys name the adapter and a fingerprint of every kernel source and
 * candidate list, so a changed kernel or driver is measured again.
 */
export interface TuneStore {
  get(key: string): TuneResult | undefined;
  set(key: string, result: TuneResult): void;
}

let store: TuneStore | null = null;

/** Keep tune() results across processes (null: only in this one). */
export function setTuneStore(s: TuneStore | null): void {
  store = s;
}

// FNV-1a over the kernels and the candidates: cheap, and enough to notice a change.
function fingerprint(): string {
  let h = 0x811c9dc5;
  const text = Object.values(K).map((k) => k.source).join('\0') + [...probes].map(([n, p]) => `${n}:${p.variants.join(',')}:${p.margin ?? 0}`).join(';');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
// matmul has three choices: products of at least LARGE_MATMUL multiply-adds
// (a big GPU's regime) may want a different kernel from small ones, and
// products that subgroup4/subgroup8 cannot read as vec4s (a transposed operand: linear
// layers, most backward products) get the fastest of the others.
const choice: { matmul: MatmulVariant; matmulLarge: MatmulVariant; matmulStrided: MatmulVariant; conv: ConvVariant; convGrad: ConvGradVariant } = {
  matmul: 'blocked', matmulLarge: 'blocked', matmulStrided: 'blocked', conv: 'plain', convGrad: 'direct',
};
export const LARGE_MATMUL = 2 ** 31; // ≈1290³

/** The matmul kernel for a product of `macs` multiply-adds (default: a small one). */
export function matmulVariant(macs = 0): MatmulVariant {
  return macs >= LARGE_MATMUL ? choice.matmulLarge : choice.matmul;
}

/** The kernel for a product subgroup4/subgroup8 cannot take (operands not
 * row-major, K or N not a multiple of 4, a bias), where the size's choice is one of them. */
export function matmulStridedVariant(): MatmulVariant {
  return choice.matmulStrided;
}

/** Force a variant for products of every size (benchmarks compare them; tests
 * cover each). Forcing subgroup4 or subgroup8 runs subgroup where they cannot. */
export function setMatmulVariant(v: MatmulVariant): void {
  choice.matmul = v;
  choice.matmulLarge = v;
  choice.matmulStrided = v === 'subgroup4' || v === 'subgroup8' ? 'subgroup' : v;
  forceFamilies('matmul');
}

export function convVariant(): ConvVariant {
  return choice.conv;
}

/** conv2d's forward and input-gradient kernels: 'subgroup' serves reductions
 * over ≥ 8 channels, and forwards over fewer (in chunks of 8 taps), where the
 * device has subgroups ('subgroup16': the same kernel on blocks of 16
 * channels; 'rows16': on 4 neighbouring pixels of a row that share their
 * loads across a row of taps, for unit column strides, else as
 * 'subgroup16'), 'plain' everything. */
export function setConvVariant(v: ConvVariant): void {
  choice.conv = v;
  forceFamilies('conv-fwd', 'conv-data');
}

export function convGradVariant(): ConvGradVariant {
  return choice.convGrad;
}

/** conv2d's weight gradient: 'direct' (registers only, conv2d_grad.wgsl main/flat,
 * blocks of 8 output channels), 'direct16' (the same on blocks of 16), 'rows'
 * (a row of up to 4 taps sharing its x loads, for unit column strides, else
 * as 'direct16') or 'tiled' (an implicit GEMM through workgroup memory). */
export function setConvGradVariant(v: ConvGradVariant): void {
  choice.convGrad = v;
  forceFamilies('conv-grad');
}

const GRID_STRIDES: Record<GridVariant, GridStride> = {
  lane: { perLane: 1, maxGroups: Infinity },
  stride4: { perLane: 4, maxGroups: 16384 },
  stride16: { perLane: 16, maxGroups: 4096 },
};
export const GRID_VARIANTS = Object.keys(GRID_STRIDES) as GridVariant[];

export function gridVariant(): GridVariant {
  const now = getGridStride();
  return GRID_VARIANTS.find((v) => GRID_STRIDES[v].perLane === now.perLane && GRID_STRIDES[v].maxGroups === now.maxGroups) ?? 'lane';
}

/** Force how elementwise kernels spread their items (benchmarks compare them). */
export function setGridVariant(v: GridVariant): void {
  if (!(v in GRID_STRIDES)) throw new Error(`sleeve: setGridVariant: '${v}' is not one of ${GRID_VARIANTS.join(', ')}`);
  setGridStride(GRID_STRIDES[v]);
}

/** The fastest candidate, except that with a margin the first stays unless
 * the fastest takes at most (1 − margin) of its time. */
export function pickVariant(variants: readonly string[], ms: (v: string) => number, margin = 0): string {
  const best = variants.reduce((a, b) => (ms(b) < ms(a) ? b : a));
  return margin && ms(best) > (1 - margin) * ms(variants[0]) ? variants[0] : best;
}

/** An op offers candidates; the first is the default until tune() runs. */
export function registerProbe(name: string, probe: Probe): void {
  if (probe.margin !== undefined && !(probe.margin >= 0 && probe.margin < 1)) throw new Error(`sleeve: registerProbe('${name}'): margin must be in [0, 1), got ${probe.margin}`);
  if (!probe.variants.length) throw new Error(`sleeve: registerProbe('${name}'): no variants`);
  probes.set(name, probe);
}

const MATMUL_VARIANTS: readonly MatmulVariant[] = ['blocked', 'tiled', 'tiled128', 'subgroup', 'subgroup4', 'subgroup8'];

/** The matmul kernels this device can run (the subgroup ones need subgroups of ≥ 8 lanes). */
export function matmulCandidates(): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((v) => !v.startsWith('subgroup') || hasSubgroups(8));
}

/** ops/matmul.ts registers how to run one small (256³) and one large (2048³)
 * product, and a small one with a transposed operand (which subgroup4 and
 * subgroup8 cannot take). The large probe runs only where the small one took under 0.5 ms
 * (a GPU): on a CPU driver it would cost seconds and large products keep the
 * small choice. */
export function registerMatmulProbe(small: (variant: MatmulVariant) => void, large: (variant: MatmulVariant) => void,
  strided: (variant: MatmulVariant) => void): void {
  const variants = MATMUL_VARIANTS;
  const available = (v: string) => matmulCandidates().includes(v as MatmulVariant);
  registerProbe('matmul', {
    variants, available,
    run: (v) => small(v as MatmulVariant),
    select: (v) => setMatmulVariant(v as MatmulVariant),
  });
  registerProbe('matmul-large', {
    variants, available,
    skip: (t) => Math.min(...variants.map((v) => t[`matmul:${v}`] ?? Infinity)) >= 0.5,
    run: (v) => large(v as MatmulVariant),
    select: (v) => { choice.matmulLarge = v as MatmulVariant; },
  });
  registerProbe('matmul-strided', {
    variants: variants.filter((v) => v !== 'subgroup4' && v !== 'subgroup8'), available,
    run: (v) => strided(v as MatmulVariant),
    select: (v) => { choice.matmulStrided = v as MatmulVariant; },
  });
}

/** Time per run, with enough runs in one submit that the submit-and-wait
 * latency (≈0.1 ms) does not decide between kernels a fast GPU runs in µs. */
async function timeIt(run: () => void): Promise<number> {
  const e = getEngine();
  run();
  await e.sync(); // warm-up: pipeline compilation
  for (let reps = 2; ; reps *= 4) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await e.sync();
    const dt = performance.now() - t0;
    if (dt >= 10 || reps >= 128) return dt / reps;
  }
}

export interface TuneOptions {
  /** measure again even if this process or the store has a result */
  fresh?: boolean;
}

/** Measure the candidates on this adapter and keep the fastest; a result
 * already known for this adapter and these kernels is reused (`fresh`
 * measures anyway). */
export async function tune(opts: TuneOptions = {}): Promise<TuneResult> {
  const key = adapterKey();
  const hit = opts.fresh ? undefined : cache.get(key) ?? readStore(key);
  forced.clear(); // tune() hands every family back to the tuner
  if (hit) {
    selecting(() => {
      for (const [name, v] of Object.entries(hit.chosen)) probes.get(name)?.select(v);
    });
    for (const [site, v] of Object.entries(hit.shapes ?? {})) shapeChoices.set(site, v);
    cache.set(key, hit);
    currentKey = key;
    return hit;
  }
  const timings: Record<string, number> = {};
  const chosen: Record<string, string> = {};
  for (const [name, all] of probes) {
    if (all.skip?.(timings)) continue;
    const probe = { ...all, variants: all.variants.filter((v) => all.available?.(v) ?? true) };
    // Alternate the candidates over several rounds and keep each one's best
    // round: a burst of load from another process then hits both alike.
    for (const v of probe.variants) timings[`${name}:${v}`] = Infinity;
    for (let round = 0; round < 3; round++) {
      for (const v of probe.variants) {
        selecting(() => probe.select(v));
        const t = await timeIt(() => probe.run(v));
        timings[`${name}:${v}`] = Math.min(timings[`${name}:${v}`], t);
      }
    }
    const best = pickVariant(probe.variants, (v) => timings[`${name}:${v}`], all.margin);
    selecting(() => probe.select(best));
    chosen[name] = best;
  }
  shapeChoices.clear(); // measured against the previous adapter-wide choices
  const result: TuneResult = { adapter: adapterInfo().description || key, chosen, matmul: choice.matmul, timings };
  cache.set(key, result);
  currentKey = key;
  save(key, result);
  return result;
}

function adapterKey(): string {
  const info = adapterInfo();
  return `${info.vendor}|${info.architecture}|${info.description}|${info.device}|${hasSubgroups(8) ? 'sg' : ''}|${fingerprint()}`;
}

function save(key: string, result: TuneResult): void {
  try {
    store?.set(key, result);
  } catch {
    /* a store that cannot write costs a re-measure next time, nothing more */
  }
}

// A stored result is used only if every choice it names is a known candidate.
function readStore(key: string): TuneResult | undefined {
  let r: TuneResult | undefined;
  try {
    r = store?.get(key);
  } catch {
    return undefined;
  }
  if (!r || typeof r.chosen !== 'object' || !r.chosen) return undefined;
  for (const [name, v] of Object.entries(r.chosen)) {
    const p = probes.get(name);
    if (!p || !p.variants.includes(v) || !(p.available?.(v) ?? true)) return undefined;
  }
  return r;
}

// ---- per-shape choices -------------------------------------------------------
// The probes above pick one kernel per op from one shape. A model's layers
// differ (3 input channels or 256, 100×100 pixels or 12×12), and so can the
// fastest kernel. tuneShapes(step) runs the step once, notes every (op,
// shape) it dispatches that has candidates, times each candidate on that
// exact shape and keeps the fastest for it (Burn keys its autotune by shape
// the same way). Ops consult shapeChoice() before the adapter-wide choice.

export interface ShapeSite {
  /** op family, e.g. 'conv-fwd' */
  family: string;
  /** the shape, as the op spells it */
  key: string;
  /** candidates this device can run for it (the first is timed first) */
  variants: readonly string[];
  /** dispatch the op once on this shape with this variant, on fresh inputs it frees */
  run: (variant: string) => void;
}

export interface ShapeTuneResult {
  family: string;
  key: string;
  chosen: string;
  /** ms per run of each candidate (empty when the choice came from the store) */
  timings: Record<string, number>;
}

const shapeChoices = new Map<string, string>();
let collecting: Map<string, ShapeSite> | null = null;

/** The variant tuneShapes() chose for this op and shape, if it has seen it. */
export function shapeChoice(family: string, key: string): string | undefined {
  return forced.has(family) ? undefined : shapeChoices.get(`${family}|${key}`);
}

/** Families whose variant a caller forced (setMatmulVariant and the like):
 * their per-shape choices are ignored, and tuneShapes() leaves them alone,
 * until tune() hands them back to the tuner. */
const forced = new Set<string>();

/** Whether a caller forced this family's variant (see `forced`). */
export function familyForced(family: string): boolean {
  return forced.has(family);
}
let inTuner = false;

function selecting(f: () => void): void {
  inTuner = true;
  try {
    f();
  } finally {
    inTuner = false;
  }
}

function forceFamilies(...families: string[]): void {
  if (!inTuner) for (const f of families) forced.add(f);
}

/** True while tuneShapes() runs its step: ops then report their sites. */
export function collectingShapes(): boolean {
  return collecting !== null;
}

export function noteShape(site: ShapeSite): void {
  const id = `${site.family}|${site.key}`;
  if (collecting && site.variants.length > 1 && !forced.has(site.family) && !collecting.has(id)) collecting.set(id, site);
}

/** One site's candidates, alternated over rounds as tune() does. A run that
 * takes over 50 ms (a big layer on a CPU driver) is timed once per round, in
 * a single round: the ranking of seconds-long runs does not need more. */
/** Best time of each variant at one op shape (exported for its test). */
export async function timeSite(site: ShapeSite): Promise<Record<string, number>> {
  const e = getEngine();
  const t: Record<string, number> = {};
  let slow = false;
  for (const v of site.variants) {
    const t0 = performance.now();
    site.run(v);
    await e.sync(); // compiles the pipeline
    if (performance.now() - t0 > 50) slow = true;
    t[v] = Infinity;
  }
  const time = async (v: string): Promise<void> => {
    let ms: number;
    if (slow) {
      const t0 = performance.now();
      site.run(v);
      await e.sync();
      ms = performance.now() - t0;
    } else {
      ms = await timeIt(() => site.run(v));
    }
    t[v] = Math.min(t[v], ms);
  };
  for (let round = 0; round < (slow ? 1 : 3); round++) {
    for (const v of site.variants) await time(v);
  }
  if (slow) {
    // One run each decides only a clear winner: the variants within 25 % of
    // the best run once more, alternated, on a machine whose speed drifts.
    const best = Math.min(...Object.values(t));
    const close = site.variants.filter((v) => t[v] < 1.25 * best);
    if (close.length > 1) for (const v of close) await time(v);
  }
  return t;
}

/**
 * Tune kernels for the shapes `fn` uses (one training step, say): fn runs
 * once (its results are the caller's to free), then every op shape it
 * dispatched with more than one candidate kernel is timed per candidate and
 * the fastest kept for that shape, in this process and in the tune store.
 * Shapes already in the store are not measured again unless `fresh`.
 */
export async function tuneShapes(fn: () => unknown, opts: TuneOptions = {}): Promise<ShapeTuneResult[]> {
  // The adapter-wide result this adds to; tune() only if there is none yet
  // (it would also undo variants a caller forced).
  const key = adapterKey();
  if (currentKey !== key || !cache.has(key)) await tune();
  const sites = new Map<string, ShapeSite>();
  collecting = sites;
  try {
    await fn();
    await getEngine().sync();
  } finally {
    collecting = null;
  }
  const out: ShapeTuneResult[] = [];
  for (const [id, site] of sites) {
    const known = shapeChoices.get(id);
    if (known && !opts.fresh && site.variants.includes(known)) {
      out.push({ family: site.family, key: site.key, chosen: known, timings: {} });
      continue;
    }
    const timings = await timeSite(site);
    const chosen = site.variants.reduce((a, b) => (timings[b] < timings[a] ? b : a));
    shapeChoices.set(id, chosen);
    out.push({ family: site.family, key: site.key, chosen, timings });
  }
  const result = cache.get(key);
  if (result) {
    result.shapes = Object.fromEntries(shapeChoices);
    save(key, result);
  }
  return out;
}
