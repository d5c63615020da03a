// Node-only file helpers for checkpoints (the browser gets bytes from
// saveSafetensors and decides where they go).
import { open, readFile, rename, unlink } from 'node:fs/promises';

/**
 * Write bytes to path atomically: into `<path>.tmp-<pid>`, flushed to disk,
 * then renamed over path. A crash mid-write leaves the old file intact, never
 * a half-written checkpoint.
 */
export async function saveFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new Error(`sleeve: saveFile: cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Read a whole file as bytes; the error names the file. */
export async function loadFile(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new Error(`sleeve: loadFile: cannot read ${path}: ${why}`);
  }
}
