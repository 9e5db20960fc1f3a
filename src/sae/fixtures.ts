import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';
import { Rng } from '../util/rng.js';

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

/** n rows, each a sum of `active` of the `planted` unit directions with coefficients in [1, 2], plus small noise. */
export function plantedData(n: number, d: number, planted: number, active: number, seed: number) {
  const rng = new Rng(seed, 'planted');
  const normal = () => rng.normal();
  const dirs = new Float64Array(planted * d);
  for (let p = 0; p < planted; p++) {
    let norm = 0;
    for (let j = 0; j < d; j++) {
      dirs[p * d + j] = normal();
      norm += dirs[p * d + j]! ** 2;
    }
    for (let j = 0; j < d; j++) dirs[p * d + j]! /= Math.sqrt(norm);
  }
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const chosen = rng.permutation(planted).subarray(0, active);
    for (let j = 0; j < d; j++) x[i * d + j] = 0.01 * normal() + 0.3;
    for (const p of chosen) {
      const c = 1 + rng.uniform();
      for (let j = 0; j < d; j++) x[i * d + j]! += c * dirs[p * d + j]!;
    }
  }
  return { x, dirs };
}
