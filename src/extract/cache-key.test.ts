import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadDataset } from '../data/index.js';
import { checkpointIdentity } from '../model/index.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { expectedStoreKey, keyDifferences, mismatchMessage } from './cache-key.js';
import { writePaperSlice, writeRandomLlama } from './testing.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-key-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('checkpoint identity: content, not path; other weights of the same shape differ; tokenizer counts', async () => {
  const a = await writeRandomLlama(join(tmp, 'a'), undefined, { seed: 1 });
  const b = await writeRandomLlama(join(tmp, 'b'), undefined, { seed: 2 });
  await cp(a, join(tmp, 'a-moved'), { recursive: true });
  const idA = await checkpointIdentity(a);
  assert.deepEqual(await checkpointIdentity(join(tmp, 'a-moved')), idA, 'a moved checkpoint still matches');
  const idB = await checkpointIdentity(b);
  assert.equal(idB.configSha256, idA.configSha256);
  assert.equal(idB.weights[0]!.headerSha256, idA.weights[0]!.headerSha256, 'same shapes, same header');
  assert.notEqual(idB.weights[0]!.edgesSha256, idA.weights[0]!.edgesSha256, 'other weights');
  await writeFile(join(tmp, 'a-moved', 'tokenizer_config.json'), '{"add_bos_token": false}');
  assert.notDeepEqual(await checkpointIdentity(join(tmp, 'a-moved')), idA);
  const hub = await checkpointIdentity(a, 'org/model', 'v2');
  assert.equal(hub.hub, 'org/model@v2');
  assert.equal((await checkpointIdentity(a, 'org/model@abc')).hub, 'org/model@abc');
  assert.equal(idA.hub, undefined, 'a local directory has no Hub revision');
});

test('store key: the random-token seed only counts for the random prompt; diffs name the flag', {
  skip: skipWithoutShared(),
}, async () => {
  const model = await writeRandomLlama(join(tmp, 'm'));
  const dataset = await loadDataset(await writePaperSlice(join(tmp, 'd'), 'world_place', 20));
  const key = async (o: Record<string, unknown>) =>
    (await expectedStoreKey({ model, prompt: 'coords', ...o }, dataset)).key as unknown as Record<
      string,
      unknown
    >;
  assert.deepEqual(
    keyDifferences(await key({ seed: 0 }), await key({ seed: 9 })),
    [],
    'coords has no random ids',
  );
  const random = keyDifferences(
    await key({ prompt: 'random', seed: 0 }),
    await key({ prompt: 'random', seed: 9 }),
  );
  assert.deepEqual(
    random.map((d) => [d.field, d.flag, d.stored, d.wanted]),
    [['randomTokenSeed', '--seed', '0', '9']],
  );
  const diffs = keyDifferences(await key({ layers: 'all' }), await key({ layers: '0:3' }));
  assert.deepEqual(diffs, [], "'all' and '0:3' are the same layers of a 3-layer model");
  const two = keyDifferences(await key({}), await key({ layers: '-1', limit: 5 }));
  assert.deepEqual(
    two.map((d) => d.field),
    ['layers', 'rows'],
  );
  assert.equal(
    mismatchMessage('S', two, 'fix it'),
    'S was made with other settings: layers [0,1,2] there, [2] now (--layers); ' +
      'rows all rows there, first 5 rows now (--limit / --sample / --seed); fix it',
  );
});
