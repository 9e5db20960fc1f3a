/**
 * Answer readouts: what the model itself says about an entity, as a number. A readout is a factual prompt
 * ("{name} is in the country of") with a fixed set of candidate answers, each carrying values of dataset
 * attributes (a country's spherical centroid of the dataset's places; a year; a population order of magnitude).
 * The model's answer is the expectation of those values under its distribution over the candidates:
 * p_c = exp(ℓ_c) / Σ_c' exp(ℓ_c'), ℓ_c = Σ log P(candidate tokens | prompt) (teacher-forced), and
 * E[value] = Σ p_c value_c (for longitude/latitude: the p-weighted mean of the candidates' unit vectors, so the
 * ±180° seam does not bias it). The true answer is scored too (its log-probability is the familiarity score).
 */
import { calendarYear, calendarYearOffset, entityStringOf } from '../data/index.js';
import { sphericalCentroid } from '../experiments/holdout.js';
import type { ModelTokenizer } from '../model/index.js';
import type { StoreEntity } from '../store/index.js';
import { UserError } from '../util/errors.js';
import type { ScoredPrompt } from './causal-edits.js';
import { familiarityTemplate } from './familiarity.js';
import { candidateIds, promptIds } from './intervene.js';

export interface ReadoutCandidate {
  text: string;
  /** One value per readout attribute. */
  values: number[];
}

export interface Readout {
  /** What is asked: country, state, borough, year, population. */
  name: string;
  /** Prompt with `{name}`; the answer follows after a space. */
  template: string;
  /** Attribute names of the candidates' values (the store's target names where they are targets). */
  attributes: string[];
  /** Indices of [longitude, latitude] in `attributes` when the expectation is a spherical mean. */
  sphere?: [number, number];
  candidates: ReadoutCandidate[];
  /** Per store row: the true answer text ('' when the dataset has none). */
  truth: string[];
}

/** A readout's prompt for one entity, tokenised, with the true answer appended as a last candidate if new. */
export interface ReadoutPrompt extends ScoredPrompt {
  /** Index into `candidates` of the true answer, or −1. */
  trueIndex: number;
}

/** Population magnitudes a reader would say (log10 values 2..9). */
const POPULATION_ANSWERS = [
  '100',
  '1,000',
  '10,000',
  '100,000',
  '1 million',
  '10 million',
  '100 million',
  '1 billion',
];

/** A year the way text writes it ("44 BC" for −44; year 0 does not exist in text and reads as "1 BC"). */
export function yearText(year: number): string {
  return year > 0 ? String(year) : `${Math.max(1, -year)} BC`;
}

/** A round step so that [lo, hi] holds at most `max` multiples of it. */
function niceStep(span: number, max: number): number {
  for (const base of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000])
    if (span / base + 1 <= max) return base;
  return Math.ceil(span / (max - 1));
}

/**
 * The readouts a store's dataset supports. Space datasets: the dataset's group column (country / state /
 * borough, the factual prompt of src/neurons/familiarity.ts) with the `maxCandidates` most frequent groups, each
 * valued at the spherical centroid of its places; plus population orders of magnitude when the dataset carries
 * populations. Time datasets: a year grid over the 1st–99th percentile of the entities' calendar years, valued in
 * the target's unit. Page views have no answer prompt and no readout.
 */
export function defaultReadouts(
  dataset: string,
  kind: 'space' | 'time',
  targetNames: string[],
  entities: StoreEntity[],
  options: { maxCandidates?: number } = {},
): Readout[] {
  const max = options.maxCandidates ?? 30;
  if (max < 2) throw new UserError('a readout needs at least 2 candidate answers');
  const spec = familiarityTemplate(dataset, kind);
  const out: Readout[] = [];
  if ('column' in spec.answer) {
    const column = spec.answer.column;
    const lon = targetNames.findIndex((t) => /^lon/i.test(t));
    const lat = targetNames.findIndex((t) => /^lat/i.test(t));
    if (lon < 0 || lat < 0)
      throw new UserError(`dataset ${dataset}: no longitude/latitude targets (${targetNames.join(', ')})`);
    const truth = entities.map((e) =>
      String(e[column] ?? '')
        .replace(/_/g, ' ')
        .trim(),
    );
    const groups = new Map<string, number[]>();
    truth.forEach((g, i) => {
      if (g) groups.set(g, [...(groups.get(g) ?? []), i]);
    });
    const t = targetNames.length;
    const targets = Float64Array.from(entities.flatMap((e) => e.target));
    const top = [...groups]
      .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
      .slice(0, max);
    if (top.length < 2) throw new UserError(`dataset ${dataset}: fewer than 2 values in column '${column}'`);
    out.push({
      name: column.replace(/_name$/, ''),
      template: spec.template,
      attributes: [...targetNames],
      sphere: [lon, lat],
      candidates: top.map(([text, rows]) => ({
        text,
        values: sphericalCentroid(targets, t, rows, lon, lat),
      })),
      truth,
    });
    const pops = entities.map((e) => Number(e['population']));
    if (pops.filter((p) => p > 0).length >= 10) {
      out.push({
        name: 'population',
        template: '{name} has a population of',
        attributes: ['log10_population'],
        candidates: POPULATION_ANSWERS.map((text, i) => ({ text, values: [i + 2] })),
        truth: pops.map((p) =>
          p > 0 ? POPULATION_ANSWERS[Math.min(7, Math.max(0, Math.round(Math.log10(p)) - 2))]! : '',
        ),
      });
    }
  } else {
    const unit = spec.answer.year;
    const years = entities.map((e) => calendarYear(unit, e.target[0]!));
    const sorted = [...years].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
    const lo0 = q(0.01);
    const hi0 = q(0.99);
    const step = niceStep(Math.max(1, hi0 - lo0), max);
    const grid: number[] = [];
    for (let y = Math.floor(lo0 / step) * step; y <= hi0; y += step) if (y !== 0) grid.push(y);
    if (grid.length < 2) grid.push(grid[0]! + step);
    const offset = calendarYearOffset(unit);
    out.push({
      name: 'year',
      template: spec.template,
      attributes: [targetNames[0]!],
      candidates: grid.map((y) => ({ text: yearText(y), values: [y - offset] })),
      truth: years.map(yearText),
    });
  }
  return out;
}

/** The entity string a store row goes into `{name}` as (extraction's rendering, e.g. art's "<creator>'s <title>"). */
export function readoutEntity(dataset: string, entity: StoreEntity): string {
  return entityStringOf(dataset, entity.name, (column) => String(entity[column] ?? ''));
}

/**
 * Tokenises one readout for one entity. The edit position is the entity's last token: the last token that
 * encode(text up to the end of the name) shares with encode(prompt), or the first differing token when the
 * name's end merges with what follows.
 */
export function readoutPrompt(
  tok: ModelTokenizer,
  readout: Readout,
  entityText: string,
  truth: string,
): ReadoutPrompt {
  const at = readout.template.indexOf('{name}');
  if (at < 0)
    throw new UserError(`readout template must contain {name}: ${JSON.stringify(readout.template)}`);
  const prompt = readout.template.replace('{name}', () => entityText);
  const ids = promptIds(tok, prompt);
  const head = promptIds(tok, readout.template.slice(0, at) + entityText);
  let common = 0;
  while (common < head.length && common < ids.length && head[common] === ids[common]) common++;
  const editPosition = Math.min(ids.length - 1, common === head.length ? common - 1 : common);
  const texts = readout.candidates.map((c) => c.text);
  let trueIndex = truth ? texts.indexOf(truth) : -1;
  if (truth && trueIndex < 0) {
    texts.push(truth);
    trueIndex = texts.length - 1;
  }
  return { ids, editPosition, candidates: texts.map((t) => candidateIds(tok, prompt, t)), trueIndex };
}

/** The model's answer under a readout from candidate log-probabilities (the first readout.candidates.length). */
export function expectedAnswer(
  readout: Readout,
  logProbs: ArrayLike<number>,
): { values: number[]; probs: Float64Array; mass: number } {
  const K = readout.candidates.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < K; c++) max = Math.max(max, logProbs[c]!);
  let z = 0;
  for (let c = 0; c < K; c++) z += Math.exp(logProbs[c]! - max);
  const probs = Float64Array.from({ length: K }, (_, c) => Math.exp(logProbs[c]! - max) / z);
  const mass = Math.exp(max) * z;
  const values = readout.attributes.map((_, a) =>
    readout.candidates.reduce((s, cand, c) => s + probs[c]! * cand.values[a]!, 0),
  );
  if (readout.sphere) {
    const [lon, lat] = readout.sphere;
    const RAD = Math.PI / 180;
    let x = 0;
    let y = 0;
    let zz = 0;
    readout.candidates.forEach((cand, c) => {
      const l = cand.values[lon]! * RAD;
      const p = cand.values[lat]! * RAD;
      x += probs[c]! * Math.cos(p) * Math.cos(l);
      y += probs[c]! * Math.cos(p) * Math.sin(l);
      zz += probs[c]! * Math.sin(p);
    });
    values[lon] = Math.atan2(y, x) / RAD;
    values[lat] = Math.atan2(zz, Math.hypot(x, y)) / RAD;
  }
  return { values, probs, mass };
}

/** KL(p ‖ q) of two distributions over the same candidates (nats). */
export function klDivergence(p: Float64Array, q: Float64Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) s += p[i]! * (Math.log(p[i]!) - Math.log(q[i]!));
  return s;
}

/** a − b for an attribute; longitudes wrap to (−180, 180]. */
export function attributeDelta(readout: Readout, attribute: number, a: number, b: number): number {
  const d = a - b;
  if (!readout.sphere || readout.sphere[0] !== attribute) return d;
  return d - 360 * Math.ceil((d - 180) / 360);
}
