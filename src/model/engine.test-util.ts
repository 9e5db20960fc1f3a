/** Shared helpers of the engine tests: the golden fixtures and the error measure. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../formats/safetensors.js';
import { packageRoot } from '../util/paths.js';

export const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'engine');

export interface GoldenMeta {
  sequences: number[][];
  hooks: string[];
  edits?: {
    add_last: { hook: string; vector: string; position: number };
    zero_neurons: { hook: string; neurons: number[] };
  };
  greedy?: { prompt: number[]; newTokens: number[] };
  /** Features whose ablated reference logits (of the longest sequence) are stored as `a.<feature>.logits`. */
  ablations?: string[];
}

/** max|a − b| / max|b| over the tensor. */
export function relError(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (ours.length !== reference.length) throw new Error(`length ${ours.length} != ${reference.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < reference.length; i++) {
    num = Math.max(num, Math.abs(ours[i]! - reference[i]!));
    den = Math.max(den, Math.abs(reference[i]!));
  }
  return num / den;
}

export async function openGolden(name: string) {
  const dir = join(FIXTURES, name);
  const meta = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as GoldenMeta;
  const file = await SafetensorsFile.open(join(dir, 'golden.safetensors'));
  return {
    dir,
    meta,
    async read(tensor: string): Promise<{ data: Float64Array; width: number }> {
      const info = file.info(tensor);
      return { data: await file.readFloat64(tensor), width: info.shape[info.shape.length - 1]! };
    },
    close: () => file.close(),
  };
}

/**
 * Checks every hook of every golden sequence in `out` (a run of all of golden.meta.sequences in one right-padded
 * batch, no kept positions) against PyTorch within `tol`; returns the worst relative error.
 */
export async function expectGoldenHooks(
  golden: Awaited<ReturnType<typeof openGolden>>,
  out: Map<string, Float32Array>,
  label: string,
  tol: number,
): Promise<number> {
  const { sequences, hooks } = golden.meta;
  const maxLen = Math.max(...sequences.map((s) => s.length));
  let worst = 0;
  for (const hook of hooks) {
    for (let i = 0; i < sequences.length; i++) {
      const { data, width } = await golden.read(`s${i}.${hook}`);
      const mine = out.get(hook)!.subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
      const err = relError(mine, data);
      worst = Math.max(worst, err);
      if (!(err <= tol)) throw new Error(`${label} s${i}.${hook}: ${err.toExponential(2)} > ${tol}`);
    }
  }
  return worst;
}
