// NumPy .npy files (format 1.0): a magic string, a Python-dict header padded
// so the data starts on a 64-byte boundary, then raw little-endian values.
// Written for float32 arrays; read for f4/f8 (tests, fixtures).

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** A little-endian float32 C-order array as .npy bytes. */
export function writeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`sleeve: writeNpy: ${data.length} values do not fill shape [${shape.join(', ')}]`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, total);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

export interface NpyArray {
  dtype: '<f4' | '<f8';
  shape: number[];
  data: Float32Array | Float64Array;
}

/** Parse .npy bytes (versions 1–3, little-endian f4/f8, C order). */
export function readNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new Error('sleeve: readNpy: not a .npy file (bad magic)');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`sleeve: readNpy: cannot parse header ${header.trim()}`);
  if (fortran === 'True') throw new Error('sleeve: readNpy: Fortran-order arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (descr !== '<f4' && descr !== '<f8') throw new Error(`sleeve: readNpy: dtype ${descr} is not supported (only <f4, <f8)`);
  const size = descr === '<f4' ? 4 : 8;
  if (bytes.length - off < n * size) throw new Error(`sleeve: readNpy: ${bytes.length - off} data bytes for ${n} values of ${descr}`);
  const copy = bytes.slice(off, off + n * size);
  const data = descr === '<f4' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
  return { dtype: descr, shape, data };
}
