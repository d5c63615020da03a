// safetensors: our writer and reader against the format, a fixture written
// from Python (test/fixtures/safetensors_check.py), a Python check of a file
// we wrote (when python3 is on the machine), malformed files, and the Node
// file helpers.
import { beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T, setup, sl } from './helpers.js';
import { loadSafetensors, saveSafetensors } from '../runtime/io/safetensors.js';
import { loadFile, saveFile } from '../runtime/io/files.node.js';

beforeAll(setup);

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

/** A safetensors file from a header object and raw data (for malformed cases). */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (v: number) => Math.fround(v);

describe('saveSafetensors', () => {
  test('bytes follow the format: length, space-padded JSON header, f32 data in order', async () => {
    const a = T([1, -2, 3.5, 4, 5, 6], [2, 3]);
    const s = T([7], []);
    const bytes = await saveSafetensors({ a, s, e: sl.zeros([0, 4]) }, { k: 'v' });
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const n = dv.getUint32(0, true);
    expect(dv.getUint32(4, true)).toBe(0);
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text);
    expect(header).toEqual({
      __metadata__: { k: 'v' },
      a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      s: { dtype: 'F32', shape: [], data_offsets: [24, 28] },
      e: { dtype: 'F32', shape: [0, 4], data_offsets: [28, 28] },
    });
    expect(bytes.length).toBe(8 + n + 28);
    const data = Array.from({ length: 7 }, (_, i) => dv.getFloat32(8 + n + 4 * i, true));
    expect(data).toEqual([1, -2, 3.5, 4, 5, 6, 7]);
  });

  test('round trip keeps names, shapes, values and metadata', async () => {
    const vals = Float32Array.from({ length: 3 * 5 * 7 }, (_, i) => Math.sin(i) * 1e3);
    const bytes = await saveSafetensors(new Map([['x.y', sl.tensor(vals, [3, 5, 7])], ['z', T([Math.PI], [1])]]), { note: 'ü ✓' });
    const { tensors, metadata } = loadSafetensors(bytes.buffer.slice(0) as ArrayBuffer);
    expect(Object.keys(tensors)).toEqual(['x.y', 'z']);
    expect(tensors['x.y'].shape).toEqual([3, 5, 7]);
    expect(await tensors['x.y'].read()).toEqual(vals);
    expect(Array.from(await tensors.z.read())).toEqual([f32(Math.PI)]);
    expect(metadata).toEqual({ note: 'ü ✓' });
    // Unaligned input (a view at an odd offset) reads the same.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(await loadSafetensors(shifted.subarray(1)).tensors['x.y'].read()).toEqual(vals);
  });

  test('refuses what it cannot write', async () => {
    await expect(saveSafetensors({ __metadata__: T([1], [1]) })).rejects.toThrow(/"__metadata__" cannot name a tensor/);
    const d = T([1], [1]);
    d.dispose();
    await expect(saveSafetensors({ d })).rejects.toThrow(/"d" .*was disposed/);
    await expect(saveSafetensors({ a: T([1], [1]) }, { n: 3 as unknown as string })).rejects.toThrow(/metadata "n" must be a string/);
  });
});

describe('loadSafetensors', () => {
  test('reads the fixture written from Python (F32, F16, BF16, F64, I64 → f32)', async () => {
    const { tensors, metadata } = loadSafetensors(readFileSync(join(FIXTURES, 'safetensors_fixture.safetensors')));
    expect(metadata).toEqual({ format: 'pt', note: 'written by test/fixtures/safetensors_check.py' });
    const got = async (k: string) => ({ shape: tensors[k].shape, values: Array.from(await tensors[k].read()) });
    expect(await got('conv.weight')).toEqual({ shape: [2, 3, 2, 2], values: Array.from({ length: 24 }, (_, i) => (i - 11) * 0.125) });
    expect(await got('conv.bias')).toEqual({ shape: [2], values: [f32(0.1), -2.5] });
    expect(await got('scalar')).toEqual({ shape: [], values: [3.25] });
    expect(tensors.empty.shape).toEqual([0]);
    // F16: max, a negative, the smallest subnormal, infinity, 1/3 rounded to half
    expect(await got('half')).toEqual({ shape: [5], values: [65504, -0.5, 2 ** -24, Infinity, 0.333251953125] });
    expect(await got('brain')).toEqual({ shape: [3], values: [1.5, -256, 2 ** -10] });
    expect(await got('double')).toEqual({ shape: [2, 2], values: [f32(1 / 3), f32(-1e-3), f32(12345.678), 0] });
    expect(await got('bn.num_batches_tracked')).toEqual({ shape: [], values: [7] });
  });

  test('malformed files fail with the problem named', () => {
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data = new Uint8Array(8);
    expect(() => loadSafetensors(new Uint8Array(5))).toThrow('sleeve: safetensors: truncated header: the file has 5 bytes');
    const long = build(ok, data);
    new DataView(long.buffer).setUint32(0, 4000, true);
    expect(() => loadSafetensors(long)).toThrow(/truncated header: it claims 4000 bytes but the file has only/);
    expect(() => loadSafetensors(build(null, data, '{"a": {"dtype": '))).toThrow(/bad JSON header/);
    expect(() => loadSafetensors(build(null, data, '[1, 2]'))).toThrow(/bad JSON header: not an object/);
    expect(() => loadSafetensors(build(ok, data.subarray(0, 6)))).toThrow(/tensor "a": data_offsets \[0, 8\] lie outside the file's 6 data bytes/);
    expect(() => loadSafetensors(build({ a: { ...ok.a, dtype: 'F8_E4M3' } }, data))).toThrow(/tensor "a": unsupported dtype F8_E4M3/);
    expect(() => loadSafetensors(build({ a: { ...ok.a, shape: [3] } }, data))).toThrow(/8 bytes do not hold shape \[3\] of F32/);
    expect(() => loadSafetensors(build({ a: { ...ok.a, data_offsets: [8, 0] } }, data))).toThrow(/bad data_offsets/);
    expect(() => loadSafetensors(build({ ...ok, __metadata__: { n: 1 } }, data))).toThrow(/__metadata__ value "n" must be a string/);
    const huge = build(ok, data);
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(() => loadSafetensors(huge)).toThrow(/exceeds the 100000000-byte limit/);
    const badUtf8 = build(null, data, '{"a": 1}');
    badUtf8[9] = 0xff;
    expect(() => loadSafetensors(badUtf8)).toThrow(/bad JSON header/);
  });
});

describe('interop with Python', () => {
  // Runs wherever python3 exists: the script reads our file with its own
  // standard-library reader, and with the safetensors package when installed.
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['--version']).status === 0);
  test.skipIf(!python)('a file we wrote passes the Python check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sleeve-st-'));
    const path = join(dir, 'ours.safetensors');
    const bytes = await saveSafetensors({
      'layer.weight': T(Array.from({ length: 6 }, (_, i) => i * 0.5 - 1), [2, 3]),
      'layer.bias': T(Array.from({ length: 5 }, (_, i) => (i + 1) / 3), [5]),
      scalar: T([3.25], []),
      empty: sl.zeros([0]),
    }, { source: 'sleeve', quoted: 'a "json" {string}' });
    await saveFile(path, bytes);
    const out = execFileSync(python!, [join(FIXTURES, 'safetensors_check.py'), 'check', path], { encoding: 'utf8' });
    console.log(`python check: ${out.trim()}`);
    expect(out).toMatch(/^OK: 4 tensors/);
  });
  if (!python) console.log('skipped the Python check: no python3 on PATH');
});

describe('Node file helpers', () => {
  test('saveFile writes atomically (no temp file left) and overwrites; loadFile reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sleeve-files-'));
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old contents');
    await saveFile(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(await loadFile(path))).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  test('errors name the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sleeve-files-'));
    const missing = join(dir, 'nope', 'x.safetensors');
    await expect(loadFile(missing)).rejects.toThrow(`sleeve: loadFile: cannot read ${missing}: no such file`);
    await expect(loadFile(dir)).rejects.toThrow(`cannot read ${dir}: it is a directory`);
    await expect(saveFile(missing, new Uint8Array(1))).rejects.toThrow(`sleeve: saveFile: cannot write ${missing}`);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });
});
