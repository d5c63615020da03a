#!/usr/bin/env node
// The `sleeve` command. Subcommands load the built runtime (dist/, made by
// `npm run build` or `npm run setup`) only when they need the GPU, so --help
// works anywhere.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `sleeve: song in, album cover out, on a WebGPU tensor runtime of its own.

Usage: sleeve <command> [options]

Commands:
  info          the WebGPU adapter in use (vendor, architecture, description, limits, features,
                the kernel variants the tuner picked)
  features      SONG.mp3 --out FEATS.npy [--png FEATS.png]: the classifier's image of a
                song (log-mel over tempogram) as float32 .npy; \`sleeve features --help\`
  cover         SONG.mp3 --out COVER.png (--classifier C --generator G | --untrained): the
                song's genre and a 100 × 100 cover painted for it; \`sleeve cover --help\`
  help          this text

Options:
  --json        machine-readable output (info)
  -h, --help    this text

Coming with later releases: trained weights, classify.`;

/** A built module under dist/, with a clear error when the build has not been run. */
async function loadBuilt(...path) {
  const file = join(root, 'dist', ...path);
  if (!existsSync(file)) {
    throw new Error(`sleeve: ${file} is missing: run \`npm run build\` (or \`npm run setup\`) in ${root} first`);
  }
  return import(pathToFileURL(file).href);
}

const loadRuntime = () => loadBuilt('runtime.node.js');

async function info(opts) {
  const sl = await loadRuntime();
  const device = await sl.init();
  const a = sl.adapterInfo();
  const tuned = await sl.tune(); // init() ran it; this returns the cached choice
  const features = { subgroups: sl.hasSubgroups(8), timestampQuery: device.features.has('timestamp-query') };
  const limits = {
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
  };
  if (opts.json) {
    console.log(JSON.stringify({ adapter: a, limits, features, kernels: tuned.chosen }, null, 2));
  } else {
    console.log(`vendor:        ${a.vendor || '(not reported)'}`);
    console.log(`architecture:  ${a.architecture || '(not reported)'}`);
    console.log(`description:   ${a.description || '(not reported)'}`);
    if (a.device) console.log(`device:        ${a.device}`);
    for (const [k, v] of Object.entries(limits)) console.log(`${k}: ${v}`);
    console.log(`subgroups (≥ 8 lanes): ${features.subgroups ? 'yes' : 'no'}; timestamp queries (profile()): ${features.timestampQuery ? 'yes' : 'no'}`);
    console.log(`kernels chosen here: ${Object.entries(tuned.chosen).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  device.destroy();
}

const commands = { info };

async function main(argv) {
  // Subcommands with options of their own parse their arguments themselves
  // (the global parser below rejects options it does not know).
  if (argv[0] === 'features') {
    const { featuresCommand } = await loadBuilt('cli', 'features.js');
    return featuresCommand(argv.slice(1));
  }
  if (argv[0] === 'cover') {
    const { coverCommand } = await loadBuilt('cli', 'cover.js');
    return coverCommand(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    console.error(`sleeve: ${err.message}\nRun \`sleeve --help\` for usage.`);
    return 2;
  }
  const [name, ...rest] = parsed.positionals;
  if (parsed.values.help || !name || name === 'help') {
    console.log(HELP);
    return 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!cmd) {
    console.error(`sleeve: unknown command "${name}". Commands: ${[...Object.keys(commands), 'features', 'cover'].join(', ')}, help.`);
    return 2;
  }
  if (rest.length) {
    console.error(`sleeve ${name}: unexpected argument "${rest[0]}"`);
    return 2;
  }
  await cmd(parsed.values);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
