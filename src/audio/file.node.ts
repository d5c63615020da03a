// Reading an input file in Node, with the path problems named before any
// byte is read: an empty path, a missing file, a directory, something that
// is not a regular file (a FIFO would block the read forever), or a file too
// big to hold in memory.
import { readFile, stat } from 'node:fs/promises';
import { AudioFileError } from './validate.js';

/** Largest input read (bytes): an hour of 320 kbit/s MP3 is ~144 MB. */
export const MAX_INPUT_BYTES = 512 * 1024 * 1024;

export async function readAudioFile(path: string): Promise<Uint8Array> {
  if (!path) throw new AudioFileError('""', 'no input file: the path is empty');
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AudioFileError(path, 'no such file');
    if (code === 'EACCES') throw new AudioFileError(path, 'permission denied');
    if (code === 'ENOTDIR') throw new AudioFileError(path, 'a part of the path is not a directory');
    throw new AudioFileError(path, `cannot be read (${code ?? (err as Error).message})`);
  }
  if (st.isDirectory()) throw new AudioFileError(path, 'is a directory, not an MP3 file');
  if (!st.isFile()) throw new AudioFileError(path, 'is not a regular file (a device, FIFO or socket?)');
  if (st.size === 0) throw new AudioFileError(path, 'file is empty (0 bytes)');
  if (st.size > MAX_INPUT_BYTES) throw new AudioFileError(path, `is ${(st.size / 2 ** 20).toFixed(0)} MiB; inputs are limited to ${MAX_INPUT_BYTES / 2 ** 20} MiB`);
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new AudioFileError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
