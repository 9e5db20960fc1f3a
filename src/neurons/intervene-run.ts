/**
 * `intervene` as one experiment@1 result: the α sweep along the probe direction (intervene.ts) and, with random
 * directions, its matched control band (the same α along N random directions of the same norm, orthogonal to w).
 */
import type { HookedModel } from '../model/index.js';
import { VERSION } from '../version.js';
import { interveneSweep, type SweepOptions } from './intervene.js';
import type { CausalExperimentResult } from './neurons-run.js';

export interface InterveneRunOptions extends SweepOptions {
  prompts: string[];
  /** The model id or path recorded in the result. */
  modelId: string;
  probeDir: string;
  dataset: string;
  targetNames: string[];
  onRow?(alpha: number, completion: string): void;
}

export async function runIntervene(
  model: HookedModel,
  o: InterveneRunOptions,
): Promise<CausalExperimentResult> {
  const { rows, typicalNorms } = await interveneSweep(model, o.prompts, o, (r) =>
    o.onRow?.(r.alpha, r.completion),
  );
  const candidates = o.candidates ?? [];
  const n = o.randomDirections ?? 0;
  const band = n > 0;
  const table = rows.map((r) => {
    const row: Record<string, string | number> = {
      prompt: r.prompt,
      alpha: r.alpha,
      shift_norm: r.shiftNorm,
      relative_shift: r.relativeShift,
      probe_shift: r.probeShift,
      completion: r.completion,
      top_token: r.topToken,
      top_prob: r.topProb,
    };
    if (r.random) {
      row['probe_shift_random_min'] = r.random.probeShift.min;
      row['probe_shift_random_max'] = r.random.probeShift.max;
    }
    r.candidates.forEach((c, k) => {
      row[`p_first_${c.candidate}`] = c.firstProb;
      row[`logp_${c.candidate}`] = c.logProb;
      if (r.random) {
        row[`logp_${c.candidate}_random_min`] = r.random.logProb[k]!.min;
        row[`logp_${c.candidate}_random_mean`] = r.random.logProb[k]!.mean;
        row[`logp_${c.candidate}_random_max`] = r.random.logProb[k]!.max;
      }
    });
    return row;
  });
  const columns = [
    ...['prompt', 'alpha', 'shift_norm', 'relative_shift', 'probe_shift'],
    ...(band ? ['probe_shift_random_min', 'probe_shift_random_max'] : []),
    ...['completion', 'top_token', 'top_prob'],
    ...candidates.flatMap((c) => [
      `p_first_${c}`,
      `logp_${c}`,
      ...(band ? [`logp_${c}_random_min`, `logp_${c}_random_mean`, `logp_${c}_random_max`] : []),
    ]),
  ];
  const randomRows = rows.flatMap((r) =>
    (r.random?.directions ?? []).map((d) => ({
      prompt: r.prompt,
      alpha: r.alpha,
      direction: d.index,
      probe_shift: d.probeShift,
      top_token: d.topToken,
      top_prob: d.topProb,
      ...Object.fromEntries(candidates.map((c, k) => [`logp_${c}`, d.logProbs[k]!])),
    })),
  );
  const target = o.direction.target;
  return {
    schema: 'spacetime-lens/experiment@1',
    experiment: 'intervene',
    title: `Steering along the ${target} probe direction at layer ${o.layer}`,
    model: o.modelId,
    dataset: o.dataset,
    prompt: o.prompts.join(' | '),
    layer: o.layer,
    hook: `blocks.${o.layer}.hook_resid_post`,
    kind: target === 'year' ? 'time' : 'space',
    targetNames: o.targetNames,
    settings: {
      probe: o.probeDir,
      target,
      alphas: o.alphas,
      unit: o.unit ?? 'rms',
      positions: o.positions ?? 'all',
      typicalNorms,
      probeWNorm: o.direction.wNorm,
      probeYScale: o.direction.yScale,
      candidates,
      randomDirections: n,
      seed: o.seed ?? 0,
    },
    columns,
    table,
    summary: {},
    tables: band
      ? {
          random: {
            columns: [
              ...['prompt', 'alpha', 'direction', 'probe_shift', 'top_token', 'top_prob'],
              ...candidates.map((c) => `logp_${c}`),
            ],
            rows: randomRows,
          },
        }
      : {},
    figures: {
      doseResponse: candidates.map((c, k) => ({
        candidate: c,
        points: rows.map((r) => ({
          prompt: r.prompt,
          alpha: r.alpha,
          logProb: r.candidates[k]!.logProb,
          firstProb: r.candidates[k]!.firstProb,
          ...(r.random && {
            randomMin: r.random.logProb[k]!.min,
            randomMean: r.random.logProb[k]!.mean,
            randomMax: r.random.logProb[k]!.max,
          }),
        })),
      })),
      candidateTokens: rows[0] ? rows[0].candidates.map((c) => ({ candidate: c.candidate, ids: c.ids })) : [],
    },
    notes: [
      'probe_shift = the change of the probe prediction (target units), measured by re-reading the edited resid_post at the last prompt position.',
      ...(band
        ? [
            `random band: the same alpha along ${n} random directions of the same norm, orthogonal to the probe direction (seed ${o.seed ?? 0}); logp_<c>_random_min/mean/max over them.`,
          ]
        : []),
    ],
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
  };
}
