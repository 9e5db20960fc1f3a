import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSaeGolden, SAE_FIXTURES } from './fixtures.js';
import { forEachChunk } from './model.js';
import { loadSae, SAE_CFG_FILE, saveSae } from './saelens.js';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('SAELens-layout folders written by NumPy load and encode/decode as NumPy computes (TopK f32, JumpReLU f16)', async () => {
  const g = loadSaeGolden<{ folders: string[] }>('layout_golden');
  const x = Float32Array.from(g.get('x'));
  const expected = {
    numpy_topk: {
      architecture: 'topk',
      k: 5,
      tie: true,
      hook: 'blocks.3.hook_resid_post',
      model: 'numpy-model',
    },
    numpy_jumprelu: {
      architecture: 'jumprelu',
      k: undefined,
      tie: false,
      hook: 'blocks.5.hook_resid_post',
      model: 'gemma-2-2b',
    },
  } as const;
  for (const folder of g.meta.folders as (keyof typeof expected)[]) {
    const { params, provenance } = await loadSae(join(SAE_FIXTURES, folder));
    const want = expected[folder];
    assert.equal(params.architecture, want.architecture);
    assert.equal(params.k, want.k);
    assert.equal(params.applyBDecToInput, want.tie);
    assert.deepEqual([params.dIn, params.dSae], [16, 48]);
    assert.equal(provenance.hookName, want.hook);
    assert.equal(provenance.modelName, want.model);
    const acts = new Float32Array(12 * 48);
    const recon = new Float32Array(12 * 16);
    await forEachChunk(
      params,
      x,
      12,
      (start, _rows, a, r) => {
        acts.set(a, start * 48);
        recon.set(r!, start * 16);
      },
      { recon: true, chunk: 5 },
    );
    const wantActs = g.get(`${folder}.acts`);
    assert.ok(maxDiff(acts, wantActs) < 1e-4, `${folder} acts differ by ${maxDiff(acts, wantActs)}`);
    assert.ok(maxDiff(recon, g.get(`${folder}.recon`)) < 1e-4, `${folder} recon`);
    let active = 0;
    for (const v of acts) active += v !== 0 ? 1 : 0;
    if (folder === 'numpy_topk') assert.equal(active, 12 * 5, 'TopK keeps exactly k features per row');
    else assert.ok(active > 0 && active < 12 * 48, 'JumpReLU zeroes some features and keeps others');
  }
});

test('saveSae then loadSae round-trips the weights and the SAELens config fields', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sae-io-'));
  try {
    const { params } = await loadSae(join(SAE_FIXTURES, 'numpy_topk'));
    await saveSae(dir, params, { hookName: 'blocks.7.hook_resid_post', hookLayer: 7, modelName: 'm' });
    const cfg = JSON.parse(await readFile(join(dir, SAE_CFG_FILE), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg['architecture'], 'topk');
    assert.deepEqual(cfg['activation_fn_kwargs'], { k: 5 });
    assert.equal(cfg['k'], 5);
    assert.equal(cfg['d_in'], 16);
    assert.equal(cfg['d_sae'], 48);
    assert.equal(cfg['hook_name'], 'blocks.7.hook_resid_post');
    assert.equal((cfg['metadata'] as Record<string, unknown>)['hook_name'], 'blocks.7.hook_resid_post');
    const back = await loadSae(dir);
    assert.deepEqual(back.params, params);
    assert.equal(back.provenance.hookLayer, 7);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadSae refuses unsupported configs and mismatched shapes with one-line reasons', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sae-bad-'));
  try {
    const { params } = await loadSae(join(SAE_FIXTURES, 'numpy_topk'));
    await saveSae(dir, params);
    const cfgPath = join(dir, SAE_CFG_FILE);
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, architecture: 'gated' }));
    await assert.rejects(loadSae(dir), /architecture 'gated' is not supported/);
    await writeFile(cfgPath, JSON.stringify({ ...cfg, normalize_activations: 'layer_norm' }));
    await assert.rejects(loadSae(dir), /normalize_activations 'layer_norm'/);
    await writeFile(cfgPath, JSON.stringify({ ...cfg, d_sae: 99 }));
    await assert.rejects(loadSae(dir), /d_sae is 99 but W_enc is \[16, 48\]/);
    await assert.rejects(loadSae(join(dir, 'missing')), /cannot read the SAE config/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
