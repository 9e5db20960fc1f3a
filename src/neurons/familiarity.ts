/**
 * Entity familiarity: does the model know the entity? Score = the mean log-probability per answer token the model
 * gives the true answer (country / state / borough, or the year as text writes it: "44 BC") after a factual prompt
 * such as "<place> is in the country of" (the sum is kept as a second column: it penalises multi-token answers).
 * Scores are written beside the activations (`<store>/familiarity.csv` + `familiarity.json`, keyed by row) and a
 * probe report compares test R², MAE, proximity error (and km) when low-familiarity entities are filtered out and per
 * familiarity bucket.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  calendarYear,
  entityStringOf,
  type TimeTargetUnit,
  timeTargetUnit,
  yearText,
} from '../data/index.js';
import { toCsv } from '../experiments/output.js';
import type { HookedModel } from '../model/index.js';
import {
  type DistanceMode,
  pointMetrics,
  proximityCounts,
  resolveAlphas,
  ridgeLoo,
  ridgePredict,
  splitMetrics,
} from '../probe/index.js';
import type { ActivationStore, StoreEntity } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { candidateIds, logSoftmaxAt, promptIds } from './intervene.js';

export interface FamiliarityTemplate {
  /** Prompt with `{name}` where the entity string goes; the answer follows after a space. */
  template: string;
  /** Where the answer comes from: an entity column, or the time target read as a calendar year in this unit. */
  answer: { column: string } | { year: TimeTargetUnit };
  /** The store's dataset: picks the entity string (the extraction's rendering, e.g. art's "<creator>'s <title>"). */
  dataset: string;
}

/** A dataset's factual prompt: the answer is a column, or the year of the time target. */
interface DatasetFamiliarity {
  template: string;
  answer: { column: string } | 'year';
}

/** Factual prompts per paper dataset (and the offline world_cities demo). */
export const FAMILIARITY_TEMPLATES: Readonly<Record<string, DatasetFamiliarity>> = {
  world_place: { template: '{name} is in the country of', answer: { column: 'country' } },
  world_cities: { template: '{name} is in the country of', answer: { column: 'country_name' } },
  us_place: { template: '{name} is in the state of', answer: { column: 'state_name' } },
  nyc_place: { template: '{name} is in the borough of', answer: { column: 'borough_name' } },
  historical_figure: { template: '{name} died in the year', answer: 'year' },
  art: { template: '{name} was released in the year', answer: 'year' },
  headline: { template: '"{name}" was published in the year', answer: 'year' },
};

/**
 * The template for a store: explicit flags win, else the dataset's default, else (time stores) the year. Year
 * answers carry the dataset's target unit (docs/method.md#familiarity): art and headline targets are years since
 * 1970, historical_figure's the year itself; a custom store's target is read as a year.
 */
export function familiarityTemplate(
  datasetName: string,
  kind: 'space' | 'time',
  override: { template?: string; answerColumn?: string } = {},
): FamiliarityTemplate {
  const base = FAMILIARITY_TEMPLATES[datasetName];
  const template =
    override.template ?? base?.template ?? (kind === 'time' ? '{name} is from the year' : undefined);
  if (!template)
    throw new UserError(
      `no factual prompt is known for dataset '${datasetName}': give --template "... {name} ..." and --answer-column`,
    );
  if (!template.includes('{name}'))
    throw new UserError(`--template must contain {name}: ${JSON.stringify(template)}`);
  const source = override.answerColumn
    ? { column: override.answerColumn }
    : (base?.answer ?? (kind === 'time' ? 'year' : undefined));
  if (!source)
    throw new UserError(`give --answer-column: the column that holds the true answer for '${datasetName}'`);
  const answer = source === 'year' ? { year: timeTargetUnit(datasetName) } : source;
  return { template, answer, dataset: datasetName };
}

/** The entity string that goes into `{name}`: the same rendering extraction used for this dataset. */
export function familiarityEntity(entity: StoreEntity, spec: FamiliarityTemplate): string {
  return entityStringOf(spec.dataset, entity.name, (column) => String(entity[column] ?? ''));
}

/** The true answer text of one entity ('Sri_Lanka' -> 'Sri Lanka'; a time target as its calendar year, "44 BC"). */
export function answerOf(entity: StoreEntity, spec: FamiliarityTemplate, row: number): string {
  if ('year' in spec.answer) return yearText(calendarYear(spec.answer.year, entity.target[0]!));
  const v = entity[spec.answer.column];
  if (v === undefined || v === null || String(v).trim() === '')
    throw new UserError(`row ${row} ('${entity.name}') has no value in column '${spec.answer.column}'`);
  return String(v).replace(/_/g, ' ').trim();
}

export interface FamiliarityScore {
  row: number;
  name: string;
  answer: string;
  answerTokens: number;
  /** Σ log P(answer tokens | prompt). */
  logProb: number;
  /** logProb / answerTokens: the familiarity score (a long answer is not "less familiar"). */
  meanLogProb: number;
  firstProb: number;
  /** The answer already appears in the entity's name (e.g. "Kaya, Burkina Faso"): the score is then easy. */
  answerInName: boolean;
}

/**
 * Scores every entity in batched runs. Log-probabilities are taken inside the `logits` hook (an edit that reads and
 * returns the value unchanged), so no [batch, T, vocab] array is ever kept.
 */
export async function scoreFamiliarity(
  model: HookedModel,
  entities: StoreEntity[],
  spec: FamiliarityTemplate,
  options: { batchSize?: number; onProgress?(done: number, total: number): void } = {},
): Promise<FamiliarityScore[]> {
  const tok = model.tokenizer;
  if (!tok) throw new UserError(`the model at ${model.source.dir} has no tokenizer.json`);
  const items = entities.map((e, row) => {
    const prompt = spec.template.replace('{name}', () => familiarityEntity(e, spec));
    const answer = answerOf(e, spec, row);
    const ids = promptIds(tok, prompt);
    const ans = candidateIds(tok, prompt, answer);
    return { row, name: e.name, answer, ids, ans, seq: [...ids, ...ans] };
  });
  const V = model.spec.vocabSize;
  const out: FamiliarityScore[] = new Array(items.length);
  const batch = options.batchSize ?? 64;
  for (let from = 0; from < items.length; from += batch) {
    const part = items.slice(from, from + batch);
    const lp = part.map(() => ({ sum: 0, first: Number.NaN }));
    await model.run(
      part.map((p) => p.seq),
      {
        // Capturing the final norm makes the run go to the end; the logits are only seen by the edit below.
        hooks: ['ln_final.hook_normalized'],
        edits: [
          {
            hook: 'logits',
            apply(value, info) {
              info.sequences.forEach((s, b) => {
                const it = part[s]!;
                it.ans.forEach((id, k) => {
                  const pos = it.ids.length - 1 + k;
                  const l = logSoftmaxAt(value, (b * info.rowsPerSequence + pos) * V, V, id);
                  lp[s]!.sum += l;
                  if (k === 0) lp[s]!.first = Math.exp(l);
                });
              });
            },
          },
        ],
      },
    );
    part.forEach((p, i) => {
      out[p.row] = {
        row: p.row,
        name: p.name,
        answer: p.answer,
        answerTokens: p.ans.length,
        logProb: lp[i]!.sum,
        meanLogProb: lp[i]!.sum / p.ans.length,
        firstProb: lp[i]!.first,
        answerInName: p.name.toLowerCase().includes(p.answer.toLowerCase()),
      };
    });
    options.onProgress?.(Math.min(items.length, from + batch), items.length);
  }
  return out;
}

export const FAMILIARITY_FILE = 'familiarity.csv';
const FAMILIARITY_COLUMNS = [
  'row',
  'name',
  'answer',
  'answer_tokens',
  'log_prob',
  'mean_log_prob',
  'first_prob',
  'answer_in_name',
];

/** Writes `<store>/familiarity.csv` (one line per row, in store order) and `familiarity.json` (how it was made). */
export async function writeFamiliarity(
  storeDir: string,
  scores: FamiliarityScore[],
  meta: Record<string, unknown>,
): Promise<string> {
  const path = join(storeDir, FAMILIARITY_FILE);
  const rows = scores.map((s) => ({
    row: s.row,
    name: s.name,
    answer: s.answer,
    answer_tokens: s.answerTokens,
    log_prob: s.logProb,
    mean_log_prob: s.meanLogProb,
    first_prob: s.firstProb,
    answer_in_name: s.answerInName,
  }));
  await writeFileAtomic(path, toCsv({ columns: FAMILIARITY_COLUMNS, rows }));
  await writeFileAtomic(
    join(storeDir, 'familiarity.json'),
    `${JSON.stringify({ file: FAMILIARITY_FILE, ...meta }, null, 1)}\n`,
  );
  return path;
}

/** Which column is the score: `mean` = mean_log_prob (the default), `sum` = log_prob. */
export type FamiliarityScoreKind = 'mean' | 'sum';

/**
 * Reads the score column (`mean_log_prob`, or `log_prob` for `sum`) of `<store>/familiarity.csv` (or another path)
 * back, checked against n rows.
 */
export async function readFamiliarity(
  path: string,
  n: number,
  kind: FamiliarityScoreKind = 'mean',
): Promise<Float64Array> {
  const column = kind === 'mean' ? 'mean_log_prob' : 'log_prob';
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`${path} not found: run 'spacetime-lens familiarity --model ... --store ...' first`);
  }
  const { parse } = await import('csv-parse/sync');
  const records = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  if (records.length !== n) throw new UserError(`${path}: ${records.length} rows, the store has ${n}`);
  const out = new Float64Array(n);
  if (records.length && !(column in records[0]!)) throw new UserError(`${path} has no column ${column}`);
  records.forEach((r, i) => {
    const row = Number(r['row']);
    const v = Number(r[column]);
    if (row !== i) throw new UserError(`${path}, line ${i + 2}: row ${r['row']}, expected ${i}`);
    if (!Number.isFinite(v))
      throw new UserError(`${path}, line ${i + 2}: ${column} '${r[column]}' is not a number`);
    out[i] = v;
  });
  return out;
}

/** The q-quantile (linear interpolation, NumPy's default) of the values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  if (!s.length) return Number.NaN;
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export interface FamiliarityProbeRow {
  analysis: 'filtered' | 'bucket';
  /** filtered: keep entities with score ≥ the q-quantile; bucket: test rows with score in [q_lo, q_hi). */
  quantileLow: number;
  quantileHigh: number;
  threshold: number;
  nTrain: number;
  nTest: number;
  alpha: number;
  testR2: number;
  testR2PerTarget: number[];
  /** Pooled MAE in target units, and for places the mean haversine km: comparable across buckets, unlike R². */
  testMae: number;
  testKm?: number;
  /**
   * Proximity error of these test rows: for `filtered`, among the kept test rows (test × test); for `bucket`, each
   * row against every test row (PE_Test), so buckets share one reference set.
   */
  testProxError: number;
}

/**
 * Probe accuracy against familiarity at one layer, by R², MAE, proximity error and (places) km:
 *  - `filtered`: for each q in `filterQuantiles`, refit (exact LOO ridge, src/probe) on the train rows whose score is
 *    ≥ the q-quantile of all scores, test on the test rows above it: does accuracy rise as unknown entities go?
 *  - `bucket`: one probe on all train rows, scored within each familiarity quantile bucket of the test rows. R²
 *    within a bucket depends on that bucket's target spread, so MAE, km and the proximity error against all test
 *    rows are the fair comparison.
 */
export async function familiarityProbe(
  store: ActivationStore,
  scores: Float64Array,
  options: {
    layer: number;
    hook?: string;
    alphas?: string | number[];
    buckets?: number;
    filterQuantiles?: number[];
    /** Distance of the proximity error and km: true haversine (default) or the authors' swapped one. */
    paperCompat?: boolean;
  },
): Promise<FamiliarityProbeRow[]> {
  const m = store.manifest;
  const n = m.n;
  const t = m.dataset.targetNames.length;
  if (scores.length !== n)
    throw new UserError(`${scores.length} familiarity scores for a store of ${n} rows`);
  const x = {
    data: await store.readLayer(options.layer, options.hook ?? 'hook_resid_post'),
    rows: n,
    cols: m.d,
  };
  const y = store.targets();
  const isTest = store.isTest();
  const mode: DistanceMode =
    m.dataset.kind === 'time' ? 'absolute' : options.paperCompat ? 'haversine-swapped' : 'haversine';
  const alphas = resolveAlphas(options.alphas, m.d, m.model).alphas;
  const rowsWhere = (keep: (i: number) => boolean) => [...Array(n).keys()].filter(keep);
  const out: FamiliarityProbeRow[] = [];
  for (const q of options.filterQuantiles ?? [0, 0.25, 0.5, 0.75]) {
    const thr = quantile(scores, q);
    const kept = rowsWhere((i) => scores[i]! >= thr);
    const train = kept.filter((i) => !isTest[i]);
    const test = kept.filter((i) => isTest[i]);
    if (train.length < 3 || !test.length) continue;
    const model = await ridgeLoo(x, y, t, alphas, { rows: train });
    const pred = await ridgePredict(model, x);
    // The kept rows alone: their test metrics (proximity error test × test among them), as `probe` scores a split.
    const sub = (a: Float64Array) =>
      Float64Array.from(kept.flatMap((i) => Array.from(a.subarray(i * t, i * t + t))));
    const metrics = (
      await splitMetrics(
        sub(y),
        sub(pred),
        t,
        Uint8Array.from(kept, (i) => isTest[i]!),
        mode,
      )
    ).test;
    out.push({
      analysis: 'filtered',
      quantileLow: q,
      quantileHigh: 1,
      threshold: thr,
      nTrain: train.length,
      nTest: test.length,
      alpha: model.alpha,
      testR2: metrics.r2,
      testR2PerTarget: metrics.r2PerTarget,
      testMae: metrics.mae,
      ...(metrics.haversineMaeKm !== undefined ? { testKm: metrics.haversineMaeKm } : {}),
      testProxError: metrics.proxError,
    });
  }
  const train = rowsWhere((i) => !isTest[i]);
  const testAll = rowsWhere((i) => isTest[i] === 1);
  if (train.length >= 3 && testAll.length) {
    const model = await ridgeLoo(x, y, t, alphas, { rows: train });
    const pred = await ridgePredict(model, x);
    // PE_Test(i) of every row: the fraction of test rows whose prediction lands closer to t_i than p_i does.
    const group = Uint8Array.from(isTest, (v) => (v ? 0 : 255));
    const closer = await proximityCounts(y, pred, n, mode, group, 1);
    const k = options.buckets ?? 4;
    const testScores = testAll.map((i) => scores[i]!);
    for (let b = 0; b < k; b++) {
      const lo = quantile(testScores, b / k);
      const hi = quantile(testScores, (b + 1) / k);
      const rows = testAll.filter(
        (i) => scores[i]! >= lo && (b === k - 1 ? scores[i]! <= hi : scores[i]! < hi),
      );
      if (rows.length < 2) continue;
      const pm = pointMetrics(y, pred, t, rows, mode);
      out.push({
        analysis: 'bucket',
        quantileLow: b / k,
        quantileHigh: (b + 1) / k,
        threshold: lo,
        nTrain: train.length,
        nTest: rows.length,
        alpha: model.alpha,
        testR2: pm.r2,
        testR2PerTarget: pm.r2PerTarget,
        testMae: pm.mae,
        ...(pm.haversineMaeKm !== undefined ? { testKm: pm.haversineMaeKm } : {}),
        testProxError: rows.reduce((a, i) => a + closer[i]!, 0) / rows.length / testAll.length,
      });
    }
  }
  return out;
}
