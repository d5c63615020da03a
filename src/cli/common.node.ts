// What the subcommands share: the usage-error line and the one-line failure.
import { AudioFileError } from '../audio/validate.js';

/** Print `sleeve <cmd>: msg` and where the usage is; the exit code 2. */
export function usageError(cmd: string, msg: string): number {
  console.error(`sleeve ${cmd}: ${msg}\nRun \`sleeve ${cmd} --help\` for usage.`);
  return 2;
}

/** Print a failure as one line (errors of our own already name their source); the exit code 1. */
export function failure(cmd: string, err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  console.error(err instanceof AudioFileError || msg.startsWith('sleeve') ? msg : `sleeve ${cmd}: ${msg}`);
  return 1;
}
