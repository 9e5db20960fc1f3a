/**
 * A minimal, defensive ZIP reader for uncompressed ("stored") archives, which is what `torch.save` writes. Reads the
 * central directory (ZIP64 included) and gives each entry's data range; every offset and size is checked against
 * the real file size.
 */
import type { FileHandle } from 'node:fs/promises';
import type { UserError } from '../util/errors.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored (the only method read here). */
  method: number;
  size: number;
  /** Absolute offset of the entry's data (after its local header). */
  dataStart: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function readAt(handle: FileHandle, position: number, length: number): Promise<DataView> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return new DataView(bytes.buffer, 0, done);
}

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

/** Lists the entries of a ZIP archive; `bad` builds the caller's error. */
export async function readZipEntries(
  handle: FileHandle,
  fileSize: number,
  bad: (why: string) => UserError,
): Promise<Map<string, ZipEntry>> {
  if (fileSize < 22) throw bad('too short to be a ZIP archive');
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  const tailLength = Math.min(fileSize, 22 + 0xffff);
  const tail = await readAt(handle, fileSize - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('not a ZIP archive (no end-of-central-directory record)');
  let count = tail.getUint16(eocd + 10, true);
  let cdSize = tail.getUint32(eocd + 12, true);
  let cdOffset = tail.getUint32(eocd + 16, true);
  const eocdAbs = fileSize - tailLength + eocd;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = await readAt(handle, eocdAbs - 20, 20);
    if (loc.byteLength < 20 || loc.getUint32(0, true) !== ZIP64_LOCATOR) throw bad('ZIP64 locator missing');
    const recAt = u64(loc, 8);
    if (!(recAt + 56 <= fileSize)) throw bad('ZIP64 record out of range');
    const rec = await readAt(handle, recAt, 56);
    if (rec.getUint32(0, true) !== ZIP64_EOCD) throw bad('ZIP64 record missing');
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  if (!(cdOffset + cdSize <= fileSize) || count > cdSize / 46) throw bad('central directory out of range');
  if (cdSize > 256 * 2 ** 20) throw bad(`central directory of ${cdSize} bytes is absurd`);
  const cd = await readAt(handle, cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cd.byteLength || cd.getUint32(at, true) !== CENTRAL) throw bad('corrupt central directory');
    const method = cd.getUint16(at + 10, true);
    let size = cd.getUint32(at + 24, true);
    let compressed = cd.getUint32(at + 20, true);
    const nameLength = cd.getUint16(at + 28, true);
    const extraLength = cd.getUint16(at + 30, true);
    const commentLength = cd.getUint16(at + 32, true);
    let local = cd.getUint32(at + 42, true);
    if (at + 46 + nameLength + extraLength > cd.byteLength) throw bad('corrupt central directory');
    const name = new TextDecoder().decode(new Uint8Array(cd.buffer, at + 46, nameLength));
    // ZIP64 extra field: the 0xffffffff fields, in order, as 8-byte values.
    let e = at + 46 + nameLength;
    const end = e + extraLength;
    while (e + 4 <= end) {
      const id = cd.getUint16(e, true);
      const len = cd.getUint16(e + 2, true);
      if (id === 0x0001) {
        let p = e + 4;
        const take = () => {
          if (p + 8 > e + 4 + len) throw bad(`bad ZIP64 field for ${name}`);
          const v = u64(cd, p);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressed === 0xffffffff) compressed = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + len;
    }
    if (!(local + 30 <= fileSize)) throw bad(`entry ${name} starts outside the file`);
    const lh = await readAt(handle, local, 30);
    if (lh.getUint32(0, true) !== LOCAL) throw bad(`entry ${name} has no local header`);
    const dataStart = local + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (!(dataStart + compressed <= fileSize))
      throw bad(`entry ${name} runs past the end of the file (truncated?)`);
    entries.set(name, { name, method, size: method === 0 ? compressed : size, dataStart });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
