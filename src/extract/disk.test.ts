import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { loadModel } from '../model/index.js';
import { UserError } from '../util/errors.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import type { ExtractionModel } from './batch.js';
import { extract } from './extract.js';
import { writePaperSlice, writeRandomLlama } from './testing.js';
import { diskError } from './work.js';

const skip = skipWithoutShared();

// A real full disk: a small tmpfs (needs mount rights, i.e. root, as in CI's container; skipped with the reason
// otherwise). The extraction must fail with a clear error, leave no store, and finish with --resume once there
// is room, byte-identical to a run that never hit the wall.
let tmp: string;
let mnt: string;
let mounted = false;
let model: ExtractionModel;
let modelDir: string;
let dataset: EntityDataset;

function tryMount(size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-disk-'));
  mnt = join(tmp, 'small');
  await mkdir(mnt);
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  model = (await loadModel(modelDir)) as unknown as ExtractionModel;
  if (skip) return; // the rest needs the paper CSVs
  dataset = await loadDataset(await writePaperSlice(join(tmp, 'data'), 'world_place', 400));
});

after(async () => {
  await model?.dispose();
  if (mounted) execFileSync('umount', [mnt]);
  await rm(tmp, { recursive: true, force: true });
});

const job = (out: string, resume = false) => ({
  model: modelDir,
  dataset,
  prompt: 'coords',
  limit: 300,
  batchSize: 20,
  out,
  loadedModel: model,
  ...(resume ? { resume: true } : {}),
});

test('ENOSPC and friends become a UserError that says what to do', () => {
  const err = diskError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'chunk 3');
  assert.ok(err instanceof UserError);
  assert.match((err as Error).message, /disk full while writing chunk 3.*--resume/);
  const other = new Error('other');
  assert.equal(diskError(other, 'x'), other);
});

test('disk full: clear error, no store, then --resume after freeing space gives the same store', {
  skip,
}, async (t) => {
  if (!tryMount('160k')) {
    t.skip('cannot mount a tmpfs here (needs root)');
    return;
  }
  mounted = true;
  const reference = await extract(job(join(tmp, 'reference')));
  const out = join(mnt, 'store');
  // Too small for the job's estimate: refused before any work.
  execFileSync('mount', ['-o', 'remount,size=48k', mnt]);
  await assert.rejects(extract(job(out)), /not enough disk space/);
  assert.deepEqual(await readdir(mnt), []);
  // Big enough for the estimate, too small for everything (entities.jsonl): fails while writing.
  execFileSync('mount', ['-o', 'remount,size=160k', mnt]);
  await assert.rejects(extract(job(out)), /disk full while writing.*--resume/);
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no half-written store');
  assert.deepEqual(
    (await readdir(mnt)).filter((n) => n !== 'store.work'),
    [],
    'only the resumable work directory is left',
  );
  execFileSync('mount', ['-o', 'remount,size=4m', mnt]);
  await extract(job(out, true));
  for (const name of await readdir(reference.store)) {
    if (name === 'manifest.json') continue;
    assert.ok((await readFile(join(out, name))).equals(await readFile(join(reference.store, name))), name);
  }
});
