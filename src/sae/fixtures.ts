import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';

/** Test fixtures of the SAE stage (made by reference/sae_golden.py). */
export const SAE_FIXTURES = join(packageRoot(), 'test', 'fixtures', 'sae');

/** A float64 blob + JSON index golden: `get(name)` gives one array, flattened row-major. */
export function loadSaeGolden<M>(name: string): { meta: M; get: (key: string) => Float64Array } {
  const meta = JSON.parse(readFileSync(join(SAE_FIXTURES, `${name}.json`), 'utf8')) as M & {
    index: Record<string, { offset: number; shape: number[] }>;
  };
  const buf = readFileSync(join(SAE_FIXTURES, `${name}.bin`));
  const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return {
    meta,
    get: (key) => {
      const e = meta.index[key];
      if (!e) throw new Error(`golden ${name} has no array ${key}`);
      return all.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1));
    },
  };
}
