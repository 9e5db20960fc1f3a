/**
 * Lossless compact encoding of the page's large arrays (per-point predictions, names, figure rows). JSON spends
 * about 8 characters on a number like -73.123; here a column of numbers becomes integers (when every value is a
 * decimal with at most 6 digits after the point, as the rounded predictions of points.ts are) or float64 otherwise,
 * its bytes grouped by significance (byte shuffle), gzip-compressed and base64-encoded. The page's script decodes
 * it with the browser's own DecompressionStream (no library, no network) back into the very values JSON would have
 * given: packing changes the size of the page, never a number. Precision is decided where the data are made
 * (points.ts rounds predictions and truths to what a plot resolves); metrics in tables are HTML, not packed.
 *
 * Base64 text holds only [A-Za-z0-9+/=], so nothing packed can close the data block or start markup.
 */
import { gzipSync } from 'node:zlib';

/** The key that marks a packed node; no data object of the page may carry it (the packer checks). */
export const PACKED_KEY = '$packed';
/** Arrays shorter than this stay JSON: packing would not pay for its base64 and gzip overhead. */
const MIN_LENGTH = 32;
/** The integer that stands for a null / NaN / ±Infinity entry (JSON writes all of them as null). */
const NULL_INT = -2147483648;
const MAX_DIGITS = 6;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function base64Gzip(bytes: Uint8Array): string {
  return gzipSync(bytes, { level: 6 }).toString('base64');
}

/** Byte j of every element together: high bytes of similar numbers are alike, which gzip finds. */
function shuffle(bytes: Uint8Array, width: number): Uint8Array {
  const n = bytes.length / width;
  const out = new Uint8Array(bytes.length);
  for (let j = 0; j < width; j++) for (let i = 0; i < n; i++) out[j * n + i] = bytes[i * width + j]!;
  return out;
}

const isNullish = (v: unknown) => v === null || (typeof v === 'number' && !Number.isFinite(v));

/** The fewest decimal digits that represent every finite value exactly as an int32, if any. */
function decimalDigits(values: ArrayLike<unknown>): number | undefined {
  for (let digits = 0; digits <= MAX_DIGITS; digits++) {
    const f = 10 ** digits;
    let ok = true;
    for (let i = 0; i < values.length && ok; i++) {
      const v = values[i];
      if (isNullish(v)) continue;
      const k = Math.round((v as number) * f);
      ok = k / f === v && Math.abs(k) < 2 ** 31 - 1;
    }
    if (ok) return digits;
  }
  return undefined;
}

function packNumbers(values: ArrayLike<unknown>): Json {
  const n = values.length;
  const digits = decimalDigits(values);
  if (digits !== undefined) {
    const f = 10 ** digits;
    const ints = new Int32Array(n);
    for (let i = 0; i < n; i++)
      ints[i] = isNullish(values[i]) ? NULL_INT : Math.round((values[i] as number) * f);
    return { [PACKED_KEY]: 'q', n, digits, z: base64Gzip(shuffle(littleEndian(ints), 4)) };
  }
  const floats = Float64Array.from({ length: n }, (_, i) =>
    isNullish(values[i]) ? Number.NaN : (values[i] as number),
  );
  return { [PACKED_KEY]: 'f', n, z: base64Gzip(shuffle(littleEndian(floats), 8)) };
}

/** Bytes of a typed array in little-endian order, whatever this machine's order is. */
function littleEndian(array: Int32Array | Float64Array): Uint8Array {
  const width = array.BYTES_PER_ELEMENT;
  const view = new DataView(new ArrayBuffer(array.length * width));
  for (let i = 0; i < array.length; i++) {
    if (width === 4) view.setInt32(i * 4, array[i]!, true);
    else view.setFloat64(i * 8, array[i]!, true);
  }
  return new Uint8Array(view.buffer);
}

const every = (values: unknown[], test: (v: unknown) => boolean) => values.every(test);
const isRow = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** The keys every row has, in the same order and none undefined (JSON would drop it), if so. */
function sameKeys(rows: Record<string, unknown>[]): string[] | undefined {
  const keys = Object.keys(rows[0]!);
  const joined = keys.join('\u0000');
  const same = (r: Record<string, unknown>) =>
    Object.keys(r).join('\u0000') === joined && keys.every((k) => r[k] !== undefined);
  return rows.every(same) ? keys : undefined;
}

function packArray(values: unknown[]): Json {
  if (values.length >= MIN_LENGTH) {
    if (every(values, (v) => typeof v === 'number' || v === null)) return packNumbers(values);
    if (every(values, (v) => typeof v === 'string'))
      return { [PACKED_KEY]: 's', z: base64Gzip(Buffer.from(JSON.stringify(values))) };
    if (every(values, (v) => typeof v === 'boolean'))
      return { [PACKED_KEY]: 'b', z: base64Gzip(Uint8Array.from(values as boolean[], Number)) };
    const keys = every(values, isRow) ? sameKeys(values as Record<string, unknown>[]) : undefined;
    if (keys?.length) {
      const rows = values as Record<string, unknown>[];
      const columns: Record<string, Json> = {};
      for (const k of keys) columns[k] = pack(rows.map((r) => r[k]));
      return { [PACKED_KEY]: 'rows', n: rows.length, columns };
    }
  }
  return values.map(pack);
}

/**
 * The value with every large array packed (what JSON.stringify would write, only smaller once packed): numbers,
 * strings, booleans, and arrays of objects that share their keys (columns, each packed in turn).
 */
export function pack(value: unknown): Json {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return packArray(Array.from(value as unknown as ArrayLike<number>));
  if (Array.isArray(value)) return packArray(value);
  if (isRow(value)) {
    if (Object.hasOwn(value, PACKED_KEY)) throw new Error(`report data may not use the key ${PACKED_KEY}`);
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = pack(v);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value as Json;
}

/**
 * Browser (and Node 20) JavaScript that defines `spacetimeUnpack(value)`: resolves to the value with every packed
 * node decoded, in place. Kept as text because it runs inside the page (client.ts includes it); the Node tests run
 * the same text. Needs atob, Blob, Response and DecompressionStream('gzip'): every browser since 2023.
 */
export const UNPACK_SCRIPT = `
async function spacetimeUnpack(root) {
  var KEY = '${PACKED_KEY}', NULL_INT = ${NULL_INT};
  async function gunzip(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  async function numbers(node) {
    var b = await gunzip(node.z), n = node.n, out = new Array(n), i;
    if (node[KEY] === 'q') {
      var f = Math.pow(10, node.digits);
      for (i = 0; i < n; i++) {
        var k = b[i] | (b[n + i] << 8) | (b[2 * n + i] << 16) | (b[3 * n + i] << 24);
        out[i] = k === NULL_INT ? null : k / f;
      }
      return out;
    }
    var bytes = new DataView(new ArrayBuffer(8));
    for (i = 0; i < n; i++) {
      for (var j = 0; j < 8; j++) bytes.setUint8(j, b[j * n + i]);
      var v = bytes.getFloat64(0, true);
      out[i] = isFinite(v) ? v : null;
    }
    return out;
  }
  async function decode(node) {
    var type = node[KEY];
    if (type === 'q' || type === 'f') return numbers(node);
    if (type === 's') return JSON.parse(new TextDecoder().decode(await gunzip(node.z)));
    if (type === 'b') return Array.from(await gunzip(node.z), function (x) { return x === 1; });
    if (type !== 'rows') throw new Error('unknown packed data: ' + type);
    var keys = Object.keys(node.columns);
    var cols = await Promise.all(keys.map(function (k) { return spacetimeUnpack(node.columns[k]); }));
    var rows = new Array(node.n);
    for (var i = 0; i < node.n; i++) {
      var row = {};
      for (var c = 0; c < keys.length; c++) row[keys[c]] = cols[c][i];
      rows[i] = row;
    }
    return rows;
  }
  var isPacked = function (v) { return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, KEY); };
  if (isPacked(root)) return decode(root);
  // Find the packed nodes in one synchronous pass (map outlines hold many small arrays), then decode them together.
  var found = [], stack = [root];
  while (stack.length) {
    var node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    for (var key in node) {
      var v = node[key];
      if (isPacked(v)) found.push([node, key]);
      else if (v !== null && typeof v === 'object') stack.push(v);
    }
  }
  await Promise.all(found.map(function (at) {
    return decode(at[0][at[1]]).then(function (value) { at[0][at[1]] = value; });
  }));
  return root;
}`;

let unpacker: ((value: unknown) => Promise<unknown>) | undefined;

/** Decodes packed data in Node with the page's own script (for tests and for tools that read a report's data). */
export function unpack<T = unknown>(value: unknown): Promise<T> {
  // biome-ignore lint/security/noGlobalEval: the page's own decoder, our text, run as written.
  unpacker ??= new Function(`${UNPACK_SCRIPT}\nreturn spacetimeUnpack;`)() as typeof unpacker;
  return unpacker!(value) as Promise<T>;
}

/** The report's data block of a page, decoded. */
export function pageData<T = unknown>(html: string): Promise<T> {
  const m = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/);
  if (!m) throw new Error('no report-data block in the page');
  return unpack<T>(JSON.parse(m[1]!));
}
