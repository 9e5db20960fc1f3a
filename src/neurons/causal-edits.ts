/**
 * The shared core of the causal tools (intervene's random band, directed patching, probe ablation): edits of
 * `blocks.{L}.hook_resid_post` that differ per sequence, so that one batched engine run scores a prompt's candidate
 * answers under many edits at once, and seeded random directions matched to a probe direction.
 *
 * An edit is nothing, an added vector, or the projection of the stream onto the orthogonal complement of a subspace
 * (x ← x − Q Qᵀ x, Q orthonormal), at the entity's last token or at every position. Candidate log-probabilities are
 * taken inside the `logits` hook (so no [batch, T, vocab] array is kept), and the edited stream is re-read by an
 * observer registered after the edit on the same hook: what a capture of that hook would return.
 */
import { orthonormalize } from '../experiments/linalg.js';
import type { EditInfo, HookEdit, HookedModel } from '../model/index.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/** One edit of the residual stream at the site's layer. */
export type StreamEdit =
  | { kind: 'none' }
  | { kind: 'add'; vector: Float32Array }
  /** Q: orthonormal vectors (float64, length d each). */
  | { kind: 'project'; basis: Float64Array[] };

/** Where edits go: `entity` = the prompt's `editPosition` only, `all` = every position (candidate tokens too). */
export interface EditSite {
  layer: number;
  positions: 'entity' | 'all';
}

/** A tokenised prompt with its candidate answers. */
export interface ScoredPrompt {
  /** The prompt's ids as the model sees them (BOS included). */
  ids: number[];
  /** Each candidate's ids, appended after the prompt (teacher-forced). */
  candidates: number[][];
  /** Index into `ids` of the token an `entity` edit changes (the entity's last token). */
  editPosition: number;
}

export interface EditedScores {
  /** [edit][candidate]: Σ log P of the candidate's tokens after the prompt. */
  logProbs: Float64Array[];
  /** [edit][candidate]: P of the candidate's first token. */
  firstProbs: Float64Array[];
  /** [edit]: the most likely next token after the prompt and its probability. */
  top: { id: number; prob: number }[];
  /** [edit][direction]: x′·w at `read.position` of the edited stream (when `read` is given). */
  readings?: Float64Array[];
  /** [edit]: ‖x′‖ at `read.position` (when `read` is given). */
  readNorms?: Float64Array;
  /** [edit]: mean ‖x − x′‖ / ‖x‖ over the edited rows (what the edit removed or added, relative). */
  relativeChange: Float64Array;
}

/** log-softmax of one row of logits at index `id` (float64). */
export function logSoftmaxAt(logits: Float32Array, offset: number, width: number, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < width; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < width; i++) sum += Math.exp(logits[offset + i]! - max);
  return logits[offset + id]! - max - Math.log(sum);
}

/** Applies one StreamEdit to a row in place; returns ‖change‖² and ‖row‖² before the edit. */
function editRow(row: Float32Array, edit: StreamEdit): [number, number] {
  let before = 0;
  for (let j = 0; j < row.length; j++) before += row[j]! * row[j]!;
  if (edit.kind === 'add') {
    let ss = 0;
    for (let j = 0; j < row.length; j++) {
      row[j]! += edit.vector[j]!;
      ss += edit.vector[j]! * edit.vector[j]!;
    }
    return [ss, before];
  }
  if (edit.kind === 'project') {
    // Coefficients from the unedited row (Q is orthonormal, so this is x − QQᵀx exactly), accumulated in float64.
    const coef = edit.basis.map((q) => {
      let dot = 0;
      for (let j = 0; j < row.length; j++) dot += q[j]! * row[j]!;
      return dot;
    });
    let ss = 0;
    for (let j = 0; j < row.length; j++) {
      let c = 0;
      for (let k = 0; k < coef.length; k++) c += coef[k]! * edit.basis[k]![j]!;
      row[j] = row[j]! - c;
      ss += c * c;
    }
    return [ss, before];
  }
  return [0, before];
}

/**
 * Refuses an edit that cannot reach the answer: only the entity's token, at the last layer, before the prompt's last
 * token (no later block reads it), so every answer would come out unchanged.
 */
export function checkReach(model: HookedModel, site: EditSite, prompt: ScoredPrompt): void {
  const last = prompt.ids.length - 1;
  if (site.positions === 'entity' && site.layer === model.spec.nLayers - 1 && prompt.editPosition < last)
    throw new UserError(
      `an edit of only token ${prompt.editPosition} at the last layer (${site.layer}) cannot reach the answer after ` +
        `token ${last}: edit an earlier layer, or every position`,
    );
}

/** The rows of sequence b (micro-batch row order) that a site edits. */
function siteRows(site: EditSite, info: EditInfo, b: number, editPosition: number): number[] {
  const len = info.lengths[b]!;
  if (site.positions === 'all') return [...Array(len).keys()];
  const t = editPosition - info.offset;
  return t >= 0 && t < len ? [t] : [];
}

/**
 * Scores a prompt's candidates under each edit in `edits`, batched: sequences are (edit, candidate) pairs, each
 * sequence gets its own edit at the site. Runs of at most `maxTokens` tokens (default 16384) bound memory.
 */
export async function scoreUnderEdits(
  model: HookedModel,
  prompt: ScoredPrompt,
  edits: StreamEdit[],
  site: EditSite,
  options: {
    read?: { position: number; directions: Float64Array[] };
    maxTokens?: number;
    /** Engine edits applied to every sequence as well (before the site's edit when on the same hook). */
    extraEdits?: HookEdit[];
  } = {},
): Promise<EditedScores> {
  const { ids, candidates } = prompt;
  const d = model.spec.dModel;
  const V = model.spec.vocabSize;
  if (site.layer < 0 || site.layer >= model.spec.nLayers)
    throw new UserError(`layer ${site.layer} is outside 0..${model.spec.nLayers - 1}`);
  if (prompt.editPosition < 0 || prompt.editPosition >= ids.length)
    throw new UserError(`edit position ${prompt.editPosition} is outside the prompt (${ids.length} tokens)`);
  for (const e of edits) {
    const bad =
      (e.kind === 'add' && e.vector.length !== d) ||
      (e.kind === 'project' && e.basis.some((q) => q.length !== d));
    if (bad) throw new UserError(`an edit vector does not have d_model = ${d} values`);
  }
  const K = candidates.length;
  // Distinct proper prefixes of the candidates (a trie; node 0 = the prompt alone): one sequence each, whose last
  // position's logits give log P of the next candidate token. Σ over a candidate's tokens = its teacher-forced
  // log-probability, and only one row of logits per sequence is ever made.
  const nodes: number[][] = [[]];
  const nodeOf = new Map<string, number>([['', 0]]);
  const steps = candidates.map((c) =>
    c.map((id, k) => {
      const key = c.slice(0, k).join(',');
      let node = nodeOf.get(key);
      if (node === undefined) {
        node = nodes.length;
        nodeOf.set(key, node);
        nodes.push(c.slice(0, k));
      }
      return { node, id };
    }),
  );
  const wanted = nodes.map(() => new Set<number>());
  for (const c of steps) for (const { node, id } of c) wanted[node]!.add(id);
  const perEdit = nodes.length;
  const read = options.read;
  const out: EditedScores = {
    logProbs: edits.map(() => new Float64Array(K)),
    firstProbs: edits.map(() => new Float64Array(K)),
    top: edits.map(() => ({ id: -1, prob: Number.NaN })),
    ...(read && {
      readings: edits.map(() => new Float64Array(read.directions.length)),
      readNorms: new Float64Array(edits.length),
    }),
    relativeChange: new Float64Array(edits.length),
  };
  const seqLen = ids.length + Math.max(0, ...nodes.map((n) => n.length));
  const editsPerRun = Math.max(1, Math.floor((options.maxTokens ?? 16384) / (perEdit * seqLen)));
  const hook = `blocks.${site.layer}.hook_resid_post`;
  for (let from = 0; from < edits.length; from += editsPerRun) {
    const group = edits.slice(from, from + editsPerRun);
    const seqs = group.flatMap(() => nodes.map((n) => [...ids, ...n]));
    const change = group.map(() => ({ sum: 0, rows: 0 }));
    /** [edit in group][node]: token id -> log P at that node. */
    const lp = group.map(() => nodes.map(() => new Map<number, number>()));
    const runEdits: HookEdit[] = [
      ...(options.extraEdits ?? []),
      {
        hook,
        apply(value, info) {
          info.sequences.forEach((s, b) => {
            const e = group[Math.floor(s / perEdit)]!;
            if (e.kind === 'none') return;
            const first = s % perEdit === 0;
            for (const t of siteRows(site, info, b, prompt.editPosition)) {
              const r = (b * info.rowsPerSequence + t) * d;
              const [ss, before] = editRow(value.subarray(r, r + d), e);
              if (first && before > 0) {
                change[Math.floor(s / perEdit)]!.sum += Math.sqrt(ss / before);
                change[Math.floor(s / perEdit)]!.rows++;
              }
            }
          });
        },
      },
    ];
    if (read) {
      runEdits.push({
        hook,
        apply(value, info) {
          info.sequences.forEach((s, b) => {
            if (s % perEdit !== 0) return;
            const t = read.position - info.offset;
            if (t < 0 || t >= info.lengths[b]!) return;
            const r = (b * info.rowsPerSequence + t) * d;
            const e = from + s / perEdit;
            let ss = 0;
            for (let j = 0; j < d; j++) ss += value[r + j]! * value[r + j]!;
            out.readNorms![e] = Math.sqrt(ss);
            read.directions.forEach((w, k) => {
              let dot = 0;
              for (let j = 0; j < d; j++) dot += w[j]! * value[r + j]!;
              out.readings![e]![k] = dot;
            });
          });
        },
      });
    }
    runEdits.push({
      hook: 'logits',
      apply(value, info) {
        // one row per sequence: the kept (last) position
        info.sequences.forEach((s, b) => {
          const g = Math.floor(s / perEdit);
          const node = s % perEdit;
          const row = b * V;
          let best = 0;
          for (let i = 1; i < V; i++) if (value[row + i]! > value[row + best]!) best = i;
          let z = 0;
          for (let i = 0; i < V; i++) z += Math.exp(value[row + i]! - value[row + best]!);
          const logZ = value[row + best]! + Math.log(z);
          if (node === 0) out.top[from + g] = { id: best, prob: Math.exp(value[row + best]! - logZ) };
          for (const id of wanted[node]!) lp[g]![node]!.set(id, value[row + id]! - logZ);
        });
      },
    });
    // Capturing the final norm makes the run go to the end; the logits are only seen by the edit above.
    await model.run(seqs, {
      hooks: ['ln_final.hook_normalized'],
      positions: seqs.map(() => -1),
      edits: runEdits,
    });
    group.forEach((_, g) => {
      const e = from + g;
      out.relativeChange[e] = change[g]!.rows ? change[g]!.sum / change[g]!.rows : 0;
      steps.forEach((c, k) => {
        let sum = 0;
        c.forEach(({ node, id }, j) => {
          const v = lp[g]![node]!.get(id)!;
          if (j === 0) out.firstProbs[e]![k] = Math.exp(v);
          sum += v;
        });
        out.logProbs[e]![k] = sum;
      });
    });
  }
  return out;
}

/** Orthonormal vectors spanning `vectors` (float64, length d each), in order (Gram–Schmidt / CholeskyQR). */
export async function orthonormalBasis(vectors: Float64Array[]): Promise<Float64Array[]> {
  if (!vectors.length) return [];
  const d = vectors[0]!.length;
  const k = vectors.length;
  if (k > d) throw new UserError(`${k} directions cannot be independent in ${d} dimensions`);
  const y = new Float64Array(d * k);
  vectors.forEach((v, c) => {
    for (let i = 0; i < d; i++) y[i * k + c] = v[i]!;
  });
  const q = await orthonormalize(y, d, k);
  return vectors.map((_, c) => Float64Array.from({ length: d }, (_, i) => q[i * k + c]!));
}

/**
 * `n` seeded random k-dimensional subspaces of R^d, each as k orthonormal vectors orthogonal to span(`exclude`):
 * Gaussian columns, with the excluded directions' components removed and then orthonormalised (QR of
 * [exclude | gaussians] keeps the excluded span first). Subspace i depends only on (seed, i, d, k, exclude).
 */
export async function randomSubspaces(
  d: number,
  k: number,
  n: number,
  exclude: Float64Array[],
  seed: number,
): Promise<Float64Array[][]> {
  if (exclude.length + k > d)
    throw new UserError(`no ${k}-D subspace of R^${d} is orthogonal to ${exclude.length} directions`);
  const out: Float64Array[][] = [];
  for (let i = 0; i < n; i++) {
    const rng = new Rng(seed, `random-direction-${i}`);
    const gauss = Array.from({ length: k }, () => Float64Array.from({ length: d }, () => rng.normal()));
    const basis = await orthonormalBasis([...exclude, ...gauss]);
    out.push(basis.slice(exclude.length));
  }
  return out;
}

/** x·y in float64. */
export function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** Mean of the finite values (NaN when none): entities without a value for a measure do not count. */
export function finiteMean(xs: number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((s, x) => s + x, 0) / f.length : Number.NaN;
}
