// safetensors, bytes in and bytes out (browser-safe; files are the caller's
// business, see files.node.ts for Node). The format:
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON: { "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ...,
//                     "__metadata__": { "<key>": "<string>" } (optional) }
//             padded with spaces to a multiple of 8
//   the rest  tensor data, little-endian; offsets are relative to the end of the header
// We write F32 in the order the tensors are given. We read F32, and convert
// F64, F16, BF16 and the integer types (I64, I32, I16, I8, U8, BOOL) to f32.
import { Tensor, tensor } from '../tensor.js';

export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
/** Typed arrays use the host's byte order; the fast paths below need little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** The reference implementation refuses larger headers; so do we. */
const MAX_HEADER = 100_000_000;

function fail(msg: string): never {
  throw new Error(`sleeve: safetensors: ${msg}`);
}

/** Serialise f32 tensors (read back from the GPU) with optional string metadata. */
export async function saveSafetensors(
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (!name) fail('a tensor name is empty');
    if (name === METADATA_KEY) fail(`"${METADATA_KEY}" cannot name a tensor`);
    if (!(t instanceof Tensor)) fail(`"${name}" is not a Tensor`);
    if (t.disposed) fail(`"${name}" ${t.describe()} was disposed`);
  }
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(`metadata "${k}" must be a string, got ${typeof v}`);
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.size * 4] };
    offset += t.size * 4;
  }
  const data = await Promise.all(entries.map(([, t]) => (t.size ? t.read() : Promise.resolve(new Float32Array(0)))));
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen, true);
  dv.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const d of data) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    else for (let i = 0; i < d.length; i++) dv.setFloat32(at + 4 * i, d[i], true);
    at += d.byteLength;
  }
  return out;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decode(dtype: string, dv: DataView, at: number, n: number): Float32Array {
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    // slice() copies into a fresh, aligned buffer whatever the offset
    return new Float32Array(dv.buffer.slice(dv.byteOffset + at, dv.byteOffset + at + 4 * n));
  }
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(at + 4 * i, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(at + 8 * i, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(at + 2 * i, true)); break;
    case 'BF16': {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, dv.getUint16(at + 2 * i, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      break;
    }
    case 'I64': for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(at + 8 * i, true)); break;
    case 'I32': for (let i = 0; i < n; i++) out[i] = dv.getInt32(at + 4 * i, true); break;
    case 'I16': for (let i = 0; i < n; i++) out[i] = dv.getInt16(at + 2 * i, true); break;
    case 'I8': for (let i = 0; i < n; i++) out[i] = dv.getInt8(at + i); break;
    case 'U8': case 'BOOL': for (let i = 0; i < n; i++) out[i] = dv.getUint8(at + i); break;
  }
  return out;
}

/** Parse safetensors bytes and upload every tensor as f32. The caller owns the tensors. */
export function loadSafetensors(bytes: Uint8Array | ArrayBuffer): Safetensors {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 8) fail(`truncated header: the file has ${b.length} bytes, fewer than the 8-byte header length`);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > MAX_HEADER) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit (not a safetensors file?)`);
  if (8 + n > b.length) fail(`truncated header: it claims ${n} bytes but the file has only ${b.length - 8} after the length`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n)));
  } catch (e) {
    fail(`bad JSON header: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('bad JSON header: not an object');
  const dataStart = 8 + n;
  const dataLen = b.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: [string, HeaderEntry][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY} value "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as Partial<HeaderEntry> | null;
    if (!e || typeof e !== 'object') fail(`tensor "${name}": header entry is not an object`);
    const { dtype, shape, data_offsets: off } = e;
    if (typeof dtype !== 'string') fail(`tensor "${name}": missing dtype`);
    if (!(dtype in DTYPE_BYTES)) fail(`tensor "${name}": unsupported dtype ${dtype} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor "${name}": bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(`tensor "${name}": bad data_offsets ${JSON.stringify(off)}`);
    }
    if (off[1] > dataLen) fail(`tensor "${name}": data_offsets [${off[0]}, ${off[1]}] lie outside the file's ${dataLen} data bytes (truncated file?)`);
    const numel = shape.reduce((p, d) => p * d, 1);
    if (off[1] - off[0] !== numel * DTYPE_BYTES[dtype]) {
      fail(`tensor "${name}": ${off[1] - off[0]} bytes do not hold shape [${shape.join(', ')}] of ${dtype} (${numel * DTYPE_BYTES[dtype]} bytes)`);
    }
    entries.push([name, { dtype, shape, data_offsets: off as [number, number] }]);
  }
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, e] of entries) {
      const numel = e.shape.reduce((p, d) => p * d, 1);
      const t = tensor(decode(e.dtype, dv, dataStart + e.data_offsets[0], numel), e.shape);
      t.name = name;
      tensors[name] = t;
    }
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}
