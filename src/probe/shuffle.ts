/**
 * Whole target rows permuted among the entities of each group (seeded Fisher–Yates), for permutation controls
 * (experiment negative-controls: one group = a full permutation). Once the shuffle of the removed control task;
 * the stream name is kept so that seeded results stay the same.
 */
import { Gaussian } from '../util/gaussian.js';

export function shuffleWithinGroups(
  targets: Float64Array,
  t: number,
  groupOf: readonly string[],
  seed: number,
): Float64Array {
  const members = new Map<string, number[]>();
  groupOf.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const rng = new Gaussian(seed, 'control-task');
  const out = new Float64Array(targets.length);
  for (const rows of members.values()) {
    const perm = rows.slice();
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.uint32() % (i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    rows.forEach((to, k) => {
      out.set(targets.subarray(perm[k]! * t, perm[k]! * t + t), to * t);
    });
  }
  return out;
}
