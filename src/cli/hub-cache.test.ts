// A Hugging Face cache tree written by @huggingface/hub's own snapshotDownload against the local Hub server, then
// used by `spacetime-lens extract` by Hub id with the network off: no request may reach the server, and the store
// must hold exactly the activations of the same checkpoint loaded from a plain directory.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { snapshotDownload } from '@huggingface/hub';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { LocalHub, sha1 } from '../model/hub-server.test-util.js';
import { openStore } from '../store/index.js';
import { withEnv } from '../util/env.test-util.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { runCliCaptured } from './testing.js';

const skip = skipWithoutShared(); // every test extracts rows of the paper's world_place.csv
const hub = new LocalHub();
const COMMIT = sha1(Buffer.from('tiny llama'));
let tmp: string;
let modelDir: string;
let csv: string;
let cache: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-hubcache-'));
  if (skip) return;
  modelDir = await writeRandomLlama(join(tmp, 'tiny-llama'));
  const files = Object.fromEntries(readdirSync(modelDir).map((f) => [f, readFileSync(join(modelDir, f))]));
  files['generation_config.json'] = Buffer.from('{"bos_token_id": 1, "eos_token_id": 2}');
  files['special_tokens_map.json'] = Buffer.from('{"bos_token": "<s>", "eos_token": "</s>"}');
  hub.addCommit(COMMIT, files);
  hub.repos['org/tiny-llama'] = { refs: { main: COMMIT } };
  await hub.start();
  csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 40);
  cache = join(tmp, 'hf-cache');
  const console_debug = console.debug;
  console.debug = () => {}; // the library logs each file it downloads
  try {
    await snapshotDownload({ repo: 'org/tiny-llama', hubUrl: hub.hubUrl, cacheDir: cache });
  } finally {
    console.debug = console_debug;
  }
});
after(async () => {
  if (!skip) await hub.stop();
  await rm(tmp, { recursive: true, force: true });
});

const args = (model: string, out: string) => [
  'extract',
  '--model',
  model,
  '--dataset',
  csv,
  '--prompt',
  'coords',
  '--limit',
  '12',
  '--quiet',
  '--out',
  out,
];

test('extract by Hub id from a cache @huggingface/hub wrote, with HF_HUB_OFFLINE=1 and with the Hub reachable', {
  skip,
}, async () => {
  const reference = join(tmp, 'from-dir');
  assert.equal((await runCliCaptured(args(modelDir, reference))).code, 0);
  const expected = await (await openStore(reference)).readLayer(2);

  hub.reset();
  const offline = join(tmp, 'offline');
  const r1 = await withEnv({ HF_HUB_OFFLINE: '1', HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: cache }, () =>
    runCliCaptured(args('org/tiny-llama', offline)),
  );
  assert.equal(r1.code, 0, r1.err);
  // online, but the revision resolves locally to a complete snapshot: still no request; --cache-dir names the cache
  const online = join(tmp, 'online');
  const r2 = await withEnv(
    { HF_HUB_OFFLINE: undefined, HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: undefined },
    () => runCliCaptured([...args('org/tiny-llama', online), '--cache-dir', cache]),
  );
  assert.equal(r2.code, 0, r2.err);
  assert.deepEqual(hub.log, [], 'no request reached the Hub');
  for (const out of [offline, online]) {
    const store = await openStore(out);
    assert.equal(store.manifest.model.id, 'org/tiny-llama');
    assert.deepEqual(await store.readLayer(2), expected);
  }
  // and a cache without the model says so in one line, exit 1
  const r3 = await withEnv({ HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(tmp, 'empty') }, () =>
    runCliCaptured(args('org/tiny-llama', join(tmp, 'none'))),
  );
  assert.equal(r3.code, 1);
  assert.match(r3.err, /offline: org\/tiny-llama@main is not complete in the cache .*empty/);
});

test('--refresh asks the Hub where main points (no file body is downloaded again); refused with --offline', {
  skip,
}, async () => {
  hub.reset();
  const out = join(tmp, 'refreshed');
  const r = await withEnv(
    { HF_HUB_OFFLINE: undefined, HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: undefined },
    () => runCliCaptured([...args('org/tiny-llama', out), '--cache-dir', cache, '--refresh']),
  );
  assert.equal(r.code, 0, r.err);
  assert.ok(
    hub.log.some((l) => l.server === 'hub' && l.url.includes('org/tiny-llama')),
    'the Hub was asked',
  );
  assert.deepEqual(hub.bodyRequests(), [], 'the cached blobs were reused');
  const both = await runCliCaptured([...args('org/tiny-llama', join(tmp, 'x')), '--offline', '--refresh']);
  assert.notEqual(both.code, 0);
  assert.match(both.err, /--refresh.*--offline|--offline.*--refresh/);
});

test('surface:KIND@<Hub id> finds its tokenizer in the --cache-dir cache, offline', { skip }, async () => {
  const fromDir = join(tmp, 'surface-dir');
  const r0 = await runCliCaptured(args(`surface:bag-of-tokens@${modelDir}`, fromDir));
  assert.equal(r0.code, 0, r0.err);
  const out = join(tmp, 'surface-hub');
  const r = await withEnv(
    { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: undefined, HF_HOME: join(tmp, 'no-home') },
    () => runCliCaptured([...args('surface:bag-of-tokens@org/tiny-llama', out), '--cache-dir', cache]),
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await (await openStore(out)).readLayer(0), await (await openStore(fromDir)).readLayer(0));
});
