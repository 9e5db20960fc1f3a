import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type HookedModel, loadModel } from '../model/index.js';
import { packageRoot } from '../util/paths.js';
import { probeAblation } from './ablation.js';
import { dot, orthonormalBasis, randomSubspaces, type StreamEdit, scoreUnderEdits } from './causal-edits.js';
import { directedPatching, type PatchEntity } from './patching.js';
import { expectedAnswer, klDivergence, type Readout, type ReadoutPrompt } from './readouts.js';

// Goldens from reference/causal_make_goldens.py (PyTorch float64): a 2-layer Llama with a planted direction P = e_0
// that only the unembedding reads (lm_head[c, 0] = 10·z_c for the candidate tokens) and a direction Q = e_1 that
// nothing reads but the RMS norms.
const ROOT = join(packageRoot(), 'test/fixtures/causal');
const G = JSON.parse(readFileSync(join(ROOT, 'golden.json'), 'utf8'));
const vec = (name: string) => Float64Array.from(G.vectors[name] as number[]);
const basis = (i: number) => Float64Array.from({ length: 32 }, (_, j) => (j === i ? 1 : 0));

/** The readout of the planted model: candidate token c = 40..47 answers z_c. */
const READOUT: Readout = {
  name: 'z',
  template: '{name}',
  attributes: ['z'],
  candidates: (G.z as number[]).map((z, i) => ({ text: `c${i}`, values: [z] })),
  truth: (G.entities as number[]).map((_, i) => `c${i}`),
};
const ENTITIES: PatchEntity[] = (G.entities as number[]).map((id, row) => ({ row, text: String(id) }));
/** [BOS, entity]: the entity is the last prompt token; entity i's true answer is candidate i. */
const promptFor = (_r: Readout, e: PatchEntity): ReadoutPrompt => ({
  ids: [1, Number(e.text)],
  editPosition: 1,
  candidates: (G.candidates as number[]).map((c) => [c]),
  trueIndex: e.row,
});

function toEdit(e: {
  kind: string;
  vector?: string;
  scale?: number;
  basis?: string[];
}): Promise<StreamEdit> | StreamEdit {
  if (e.kind === 'none') return { kind: 'none' };
  if (e.kind === 'add')
    return { kind: 'add', vector: Float32Array.from(vec(e.vector!), (x) => x * e.scale!) };
  return orthonormalBasis(e.basis!.map(vec)).then((b) => ({ kind: 'project', basis: b }));
}

describe('causal edits against PyTorch float64 (planted 2-layer Llama)', () => {
  let model: HookedModel;
  before(async () => {
    model = await loadModel(join(ROOT, 'planted-llama'));
  });
  after(() => model.dispose());

  test('edited forward: candidate log-probs, first-token probs, argmax, the edited stream, E[z] and KL', async () => {
    const edits = await Promise.all((G.edits as never[]).map(toEdit));
    const probe = Float64Array.from(G.probe as number[]);
    for (const [pi, pr] of (
      G.prompts as { ids: number[]; editPosition: number; candidates: number[][] }[]
    ).entries()) {
      for (const layer of [0, 1]) {
        const s = await scoreUnderEdits(
          model,
          pr,
          edits,
          { layer, positions: 'entity' },
          {
            read: { position: pr.editPosition, directions: [probe] },
          },
        );
        // Project edits go everywhere: score them with positions 'all' (adds stay at the edited position).
        const all = await scoreUnderEdits(model, pr, edits, { layer, positions: 'all' });
        for (const c of (G.cases as Record<string, never>[]).filter(
          (x) => x['prompt'] === pi && x['layer'] === layer,
        )) {
          const e = c['edit'] as number;
          const kind = (G.edits[e] as { kind: string }).kind;
          const lp = kind === 'project' ? all.logProbs[e]! : s.logProbs[e]!;
          const fp = kind === 'project' ? all.firstProbs[e]! : s.firstProbs[e]!;
          (c['logProbs'] as number[]).forEach((want, k) => {
            assert.ok(
              Math.abs(lp[k]! - want) < 2e-4,
              `prompt ${pi} layer ${layer} edit ${e} cand ${k}: ${lp[k]} vs ${want}`,
            );
          });
          (c['firstProbs'] as number[]).forEach((want, k) => {
            assert.ok(Math.abs(fp[k]! - want) < 2e-5);
          });
          const top = (kind === 'project' ? all.top : s.top)[e]!;
          assert.equal(top.id, (c['top'] as { id: number }).id);
          const ex = expectedAnswer(READOUT, lp);
          assert.ok(Math.abs(ex.values[0]! - (c['expectedZ'] as number)) < 1e-4);
          const clean = expectedAnswer(READOUT, s.logProbs[0]!);
          assert.ok(
            Math.abs(klDivergence(clean.probs, ex.probs) - (c['kl'] as number)) <
              1e-4 + 1e-3 * (c['kl'] as number),
          );
          if (kind !== 'project') {
            // The observer re-reads the stream after the edit: x′·w equals the reference's edited stream · w.
            assert.ok(
              Math.abs(s.readings![e]![0]! - (c['reading'] as number)) < 1e-4 * (1 + Math.abs(c['reading'])),
            );
            const x = c['stream'] as number[];
            assert.ok(Math.abs(s.readNorms![e]! - Math.hypot(...x)) < 1e-4 * Math.hypot(...x));
          }
        }
      }
    }
  });

  test('hand case: steering along the planted P moves the answer (slope as the reference); Q moves nothing', async () => {
    const wP = Float64Array.from(basis(0), (x) => x * G.patch.wScale);
    const wQ = Float64Array.from(basis(1), (x) => x * G.patch.wScale);
    const res = await directedPatching(model, {
      layer: 1,
      directions: [
        { name: 'P', w: wP, yScale: 1 },
        { name: 'Q', w: wQ, yScale: 1 },
      ],
      amounts: G.patch.amounts,
      readouts: [READOUT],
      entities: ENTITIES,
      randomDirections: 8,
      promptFor,
    });
    const cell = (dir: string, m: string) => res.matrix.find((c) => c.direction === dir && c.measure === m)!;
    const p = cell('P', 'z');
    assert.ok(Math.abs(p.slope - G.patch.slope) < 1e-4, `slope ${p.slope} vs ${G.patch.slope}`);
    assert.ok(p.outside && p.slope > p.randomMax, `P ${p.slope} vs band ${p.randomMin}..${p.randomMax}`);
    const q = cell('Q', 'z');
    assert.ok(Math.abs(q.slope) < 1e-3 * p.slope, `Q slope ${q.slope}`);
    assert.ok(!q.outside && q.randomMax - q.randomMin > 100 * Math.abs(q.slope));
    // Re-read probe shifts: the probe's own direction reads exactly the amount; its random twins ≈ 0.
    for (const e of res.effects.filter((x) => x.direction === 'P')) {
      const want = e.source === -1 ? e.amount : 0;
      assert.ok(
        Math.abs(e.probeShifts[0]! - want) < 1e-4 * Math.abs(e.amount),
        `${e.source} ${e.probeShifts[0]}`,
      );
    }
    assert.equal(res.effects.length, 2 * 4 * 9 * ENTITIES.length);
  });

  test('hand case: ablating the planted P changes the answers beyond every random subspace; ablating Q is ≈ 0', async () => {
    const common = { layer: 1, readouts: [READOUT], entities: ENTITIES, randomDirections: 8, promptFor };
    const used = await probeAblation(model, { ...common, directions: [basis(0)], label: 'P' });
    const row = (r: typeof used, m: string) => r.summary.find((x) => x.metric === m)!;
    assert.ok(Math.abs(row(used, 'kl').probe - G.ablate.P.kl) < 1e-4 * (1 + G.ablate.P.kl));
    assert.ok(Math.abs(row(used, 'abs_dlogp_true').probe - G.ablate.P.absDlogpTrue) < 1e-4);
    assert.ok(Math.abs(row(used, 'abs_d_z').probe - G.ablate.P.absDz) < 1e-4);
    assert.equal(used.used, true);
    assert.ok(row(used, 'kl').probe > row(used, 'kl').randomMax);
    assert.match(used.verdict, /uses this direction/);
    const unread = await probeAblation(model, { ...common, directions: [basis(1)], label: 'Q' });
    assert.ok(row(unread, 'kl').probe < 1e-6, `Q KL ${row(unread, 'kl').probe}`);
    assert.ok(Math.abs(row(unread, 'abs_dlogp_true').probe - G.ablate.Q.absDlogpTrue) < 1e-4);
    assert.equal(unread.used, false);
    assert.ok(row(unread, 'kl').probe < 1e-3 * row(unread, 'kl').randomMin);
    assert.match(unread.verdict, /do not use/);
  });
});

test('random subspaces: orthonormal, orthogonal to the excluded directions, seeded, independent of their count', async () => {
  const d = 48;
  const exclude = [
    Float64Array.from({ length: d }, (_, i) => Math.sin(i + 1)),
    Float64Array.from({ length: d }, (_, i) => i % 3),
  ];
  const a = await randomSubspaces(d, 2, 5, exclude, 7);
  const b = await randomSubspaces(d, 2, 3, exclude, 7);
  const c = await randomSubspaces(d, 2, 3, exclude, 8);
  assert.equal(a.length, 5);
  for (const s of a) {
    for (const [i, u] of s.entries()) {
      assert.ok(Math.abs(dot(u, u) - 1) < 1e-12);
      for (const w of exclude) assert.ok(Math.abs(dot(u, w)) < 1e-10);
      for (const v of s.slice(i + 1)) assert.ok(Math.abs(dot(u, v)) < 1e-12);
    }
  }
  assert.deepEqual(a.slice(0, 3), b);
  assert.ok(Math.abs(dot(a[0]![0]!, c[0]![0]!)) < 0.9);
  await assert.rejects(randomSubspaces(3, 2, 1, exclude, 0), /orthogonal/);
});
