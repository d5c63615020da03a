// tune()'s results kept on disk for the Node entry, so a process does not
// re-measure kernels it measured before on this adapter: one JSON file,
// $SLEEVE_CACHE_DIR/tune.json (default $XDG_CACHE_HOME/sleeve or
// ~/.cache/sleeve), written atomically. A file that is missing, unreadable
// or not JSON only means measuring again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TuneResult, TuneStore } from '../tune.js';

/** Entries kept: the newest per key, at most this many keys. */
const MAX_ENTRIES = 32;

export function defaultCacheDir(): string {
  const env = process.env;
  return env.SLEEVE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sleeve');
}

export function fileTuneStore(dir = defaultCacheDir()): TuneStore {
  const file = join(dir, 'tune.json');
  const load = (): Record<string, TuneResult> => {
    try {
      const all = JSON.parse(readFileSync(file, 'utf8'));
      return all && typeof all === 'object' && !Array.isArray(all) ? all : {};
    } catch {
      return {};
    }
  };
  return {
    get: (key) => load()[key],
    set: (key, result) => {
      const all = load();
      delete all[key]; // re-inserted last: object key order is the age order
      all[key] = result;
      const keys = Object.keys(all);
      for (const k of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete all[k];
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all));
      renameSync(tmp, file);
    },
  };
}
