// How the engine waits for the device. In a browser a promise is all there
// is. In Node, Dawn (npm `webgpu`) settles its promises by polling from the
// event loop as long as one is pending, and that polling kept the main thread
// ~70 % busy for the whole wait (4.0 s of CPU in a 5.6 s wait on lavapipe):
// on a CPU driver that is a core taken from the kernels themselves. The Node
// entry therefore installs a waiter that sleeps between polls.

export type Waiter = <T>(p: Promise<T>) => Promise<T>;

let waiter: Waiter = (p) => p;

/** Replace how device promises are awaited (runtime/node.ts does). */
export function setWaiter(w: Waiter): void {
  waiter = w;
}

/** Await a device promise (onSubmittedWorkDone, mapAsync) the installed way. */
export function waitDevice<T>(p: Promise<T>): Promise<T> {
  return waiter(p);
}

export interface SleepyOptions {
  /** Poll freely for this long first (ms): short waits keep their latency. */
  spinMs: number;
  /** Then sleep this fraction of the time waited so far between polls... */
  fraction: number;
  /** ...but never longer than this (ms). */
  maxSleepMs: number;
}

/**
 * A waiter that lets the event loop run one turn (Dawn polls once), then
 * blocks the thread without using the CPU (Atomics.wait) for a slice that
 * grows with the time already waited: a wait overshoots by at most
 * `fraction` of its length, or `maxSleepMs`.
 */
export function sleepyWaiter(opts: SleepyOptions = { spinMs: 1, fraction: 0.02, maxSleepMs: 1 }): Waiter {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  return async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    const done = p.then(() => { settled = true; }, () => { settled = true; });
    const t0 = performance.now();
    while (!settled) {
      await Promise.race([done, turn()]); // back as soon as p settles
      if (settled) break;
      const waited = performance.now() - t0;
      if (waited > opts.spinMs) Atomics.wait(cell, 0, 0, Math.min(opts.maxSleepMs, waited * opts.fraction));
    }
    return p;
  };
}
