// tune()'s disk store in the Node entry: a second process on the same adapter
// and kernels reads the first one's result instead of measuring; a corrupt or
// foreign file only means measuring again. Runs the built bundle
// (dist/runtime.node.js, made by `npm test`'s build step) in child processes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const bundle = resolve('dist/runtime.node.js');
const dir = mkdtempSync(join(tmpdir(), 'sleeve-tune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Tuned { chosen: Record<string, string>; timings: Record<string, number> }

function tuneInChild(env: Record<string, string> = {}): Tuned {
  const script = `import(${JSON.stringify(bundle)}).then(async (sl) => {
    await sl.init();
    process.stdout.write('@@' + JSON.stringify(await sl.tune()) + '@@');
    process.exit(0);
  });`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SLEEVE_TUNE_CACHE: '', SLEEVE_CACHE_DIR: dir, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(/@@(.*)@@/s.exec(out)![1]);
}

test('a second process reads the stored choice; a corrupt or foreign file is measured again', () => {
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` first`);
  const file = join(dir, 'tune.json');
  const first = tuneInChild();
  expect(existsSync(file)).toBe(true);
  // Identical timings to the last digit: read from the file, not measured again.
  const second = tuneInChild();
  expect(second).toEqual(first);

  // A stored choice naming a kernel this version does not have is ignored.
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  const [key] = Object.keys(stored);
  stored[key] = { ...stored[key], chosen: { ...stored[key].chosen, matmul: 'no-such-kernel' } };
  writeFileSync(file, JSON.stringify(stored));
  const third = tuneInChild();
  expect(third.chosen.matmul).not.toBe('no-such-kernel');
  expect(third.timings).not.toEqual(first.timings);

  writeFileSync(file, '{ not json');
  const fourth = tuneInChild();
  expect(Object.keys(fourth.chosen)).toEqual(Object.keys(first.chosen));
  expect(JSON.parse(readFileSync(file, 'utf8'))[key].chosen).toEqual(fourth.chosen);

  // SLEEVE_TUNE_CACHE=off: measured in every process, the file left alone.
  const before = readFileSync(file, 'utf8');
  const off = tuneInChild({ SLEEVE_TUNE_CACHE: 'off' });
  expect(off.timings).not.toEqual(fourth.timings);
  expect(readFileSync(file, 'utf8')).toBe(before);
});
