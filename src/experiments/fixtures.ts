/** Test helper: reads a golden written by reference/experiments_*.py (JSON index + float64 little-endian blob). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';

export interface Golden<M> {
  meta: M;
  get(name: string): Float64Array;
  shape(name: string): number[];
}

export function loadGolden<M = Record<string, unknown>>(name: string): Golden<M> {
  const dir = join(packageRoot(), 'test', 'fixtures', 'experiments');
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as M & {
    index: Record<string, { offset: number; shape: number[] }>;
  };
  const buf = readFileSync(join(dir, `${name}.bin`));
  const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const entry = (key: string) => {
    const e = meta.index[key];
    if (!e) throw new Error(`golden ${name} has no array ${key}`);
    return e;
  };
  return {
    meta,
    get: (key) => {
      const e = entry(key);
      return all.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1));
    },
    shape: (key) => entry(key).shape,
  };
}
