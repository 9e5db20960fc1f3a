// resolveModelSource against LocalHub (hub-server.test-util.ts): two real HTTP servers on 127.0.0.1 that answer
// as the Hub does (redirects to a second host, ETag / X-Repo-Commit / X-Linked-* headers, Range, 401/403 on gated
// files, 404 on a missing revision, pagination, Xet), with dropped connections, corrupt bytes and a server that
// ignores Range. Caches are checked file by file against the layout huggingface_hub writes, and one is written by
// @huggingface/hub's own download functions and then read by us.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadFileToCacheDir, snapshotDownload } from '@huggingface/hub';
import { withEnv } from '../util/env.test-util.js';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { openCheckpoint } from './checkpoint.js';
import { parseHubId, planSnapshot, type ResolveOptions, repoFolderName, resolveModelSource } from './hub.js';
import { findHubToken } from './hub-auth.js';
import { gitOid, LocalHub, sha1, sha256 } from './hub-server.test-util.js';
import { loadTokenizer } from './tokenizer.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'loading');
const read = (...p: string[]) => readFileSync(join(fixtures, ...p));

// Two commits of org/tiny: A (tag v1) has a single-file F32 checkpoint, B (main) a 2-shard BF16 one.
const COMMIT_A = sha1(Buffer.from('commit A'));
const COMMIT_B = sha1(Buffer.from('commit B'));
const COMMIT_BIN = sha1(Buffer.from('bin only'));
const COMMIT_X = sha1(Buffer.from('xet'));
const tokenizerFiles = {
  'tokenizer.json': read('tiny-gpt2', 'tokenizer.json'),
  'tokenizer_config.json': read('tiny-gpt2', 'tokenizer_config.json'),
};
const filesA: Record<string, Buffer> = {
  'config.json': Buffer.from(JSON.stringify({ model_type: 'gpt2', n_layer: 1, rev: 'A' })),
  ...tokenizerFiles,
  'model.safetensors': read('checkpoints', 'f32', 'model.safetensors'),
  'README.md': Buffer.from('# tiny\n'),
};
const filesB: Record<string, Buffer> = {
  'config.json': Buffer.from(JSON.stringify({ model_type: 'gpt2', n_layer: 1, rev: 'B' })),
  ...tokenizerFiles,
  'model.safetensors.index.json': read('checkpoints', 'sharded', 'model.safetensors.index.json'),
  'model-00001-of-00002.safetensors': read('checkpoints', 'sharded', 'model-00001-of-00002.safetensors'),
  'model-00002-of-00002.safetensors': read('checkpoints', 'sharded', 'model-00002-of-00002.safetensors'),
  'pytorch_model.bin': Buffer.from('not wanted'),
};
const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';

const hub = new LocalHub();
hub.addCommit(COMMIT_A, filesA);
hub.addCommit(COMMIT_B, filesB);
hub.addCommit(COMMIT_BIN, { 'config.json': Buffer.from('{}'), 'pytorch_model.bin': Buffer.from('x') });
hub.addCommit(COMMIT_X, { ...filesA, 'config.json': Buffer.from('{"model_type":"gpt2","rev":"X"}') }, true);
Object.assign(hub.repos, {
  'org/tiny': { refs: { main: COMMIT_B, v1: COMMIT_A } },
  'org/gated': { refs: { main: COMMIT_A }, gatedFor: ['hf_accepted'] },
  'org/binonly': { refs: { main: COMMIT_BIN } },
  'org/xet': { refs: { main: COMMIT_X }, xet: true },
});

const scratch = mkdtempSync(join(tmpdir(), 'stl-hub-'));
let caches = 0;
const freshCache = () => join(scratch, `cache-${caches++}`);
const opts = (o: Partial<ResolveOptions> = {}): ResolveOptions => ({
  hubUrl: hub.hubUrl,
  retryDelayMs: 10,
  token: '',
  onWarning: () => {},
  ...o,
});
const repoDir = (cache: string, repo = 'org/tiny') => join(cache, repoFolderName(repo));
const names = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

before(() => hub.start());
after(async () => {
  await hub.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('resolveModelSource against a local Hub', () => {
  test('a local directory is returned as is, with zero network calls', async () => {
    hub.reset();
    const dir = join(fixtures, 'checkpoints', 'f32');
    assert.equal(await resolveModelSource(dir, opts()), dir);
    await assert.rejects(resolveModelSource('./no/such/dir', opts()), /no model directory/);
    assert.equal(hub.log.length, 0);
  });

  test("the default cache is huggingface_hub's ($HF_HOME/hub), written in its exact layout", async () => {
    hub.reset();
    const home = join(scratch, 'hf-home');
    const dir = await withEnv(
      { HF_HOME: home, HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined },
      () => resolveModelSource('org/tiny', opts({ token: 'hf_not_for_the_cdn' })),
    );
    const base = join(home, 'hub', 'models--org--tiny');
    assert.equal(dir, join(base, 'snapshots', COMMIT_B));
    assert.deepEqual(names(dir), [
      'config.json',
      SHARD1,
      SHARD2,
      'model.safetensors.index.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const f of names(dir)) {
      assert.deepEqual(readFileSync(join(dir, f)), filesB[f], f);
      // relative links into blobs/, named as huggingface_hub names them: sha256 for LFS files, git oid else
      const etag = f.endsWith('.safetensors') ? sha256(filesB[f]!) : gitOid(filesB[f]!);
      assert.equal(readlinkSync(join(dir, f)), join('..', '..', 'blobs', etag), f);
    }
    assert.equal(readFileSync(join(base, 'refs', 'main'), 'utf8'), COMMIT_B);
    assert.deepEqual(names(join(base, '.no_exist', COMMIT_B)), [
      'generation_config.json',
      'special_tokens_map.json',
    ]);
    assert.equal(readFileSync(join(base, '.no_exist', COMMIT_B, 'generation_config.json'), 'utf8'), '');
    assert.ok(!names(join(base, 'blobs')).some((f) => f.endsWith('.incomplete')));
    assert.deepEqual(names(join(home, 'hub', '.locks', 'models--org--tiny')), [], 'locks are released');
    // LFS files came from the second host through a 302; the token went to the Hub only.
    const cdn = hub.log.filter((l) => l.server === 'cdn');
    assert.ok(cdn.some((l) => l.url.startsWith(`/lfs/${sha256(filesB[SHARD1]!)}`)));
    assert.ok(
      cdn.every((l) => l.auth === undefined),
      JSON.stringify(cdn),
    );
    assert.ok(hub.log.some((l) => l.server === 'hub' && l.auth === 'Bearer hf_not_for_the_cdn'));
    // The listing (6 entries, pages of 4) was followed across its Link: rel="next".
    assert.equal(hub.log.filter((l) => l.url.includes('/tree/')).length, 2);
    const ck = await openCheckpoint(dir);
    assert.equal(ck.weightDtype, 'BF16');
    assert.equal(ck.config['rev'], 'B');
    await ck.close();
    assert.equal((await loadTokenizer(dir)).name, `org/tiny@${COMMIT_B.slice(0, 12)}`);

    // HF_HUB_CACHE wins over HF_HOME; the cache that resolves locally is used with no network call at all.
    hub.reset();
    const again = await withEnv(
      { HF_HOME: join(scratch, 'elsewhere'), HF_HUB_CACHE: join(home, 'hub') },
      () => resolveModelSource('org/tiny', opts()),
    );
    assert.equal(again, dir);
    assert.equal(hub.log.length, 0);
    // refresh asks where main points now (revision + listing) but downloads nothing.
    await withEnv({ HF_HUB_CACHE: join(home, 'hub') }, () =>
      resolveModelSource('org/tiny', opts({ refresh: true })),
    );
    assert.ok(hub.log.length > 0);
    assert.equal(hub.bodyRequests().length, 0);
  });

  test('HF_ENDPOINT names the Hub', async () => {
    hub.reset();
    const dir = await withEnv({ HF_ENDPOINT: hub.hubUrl }, () =>
      resolveModelSource('org/tiny@v1', { cacheDir: freshCache(), token: '', retryDelayMs: 10 }),
    );
    assert.ok(dir.endsWith(COMMIT_A));
    assert.ok(hub.log.length > 0);
  });

  test('a cache Python filled partly is completed without fetching its weights again', async () => {
    hub.reset();
    const cache = freshCache();
    // What transformers leaves after AutoModel alone: config and weights, no tokenizer, no .no_exist entries.
    for (const path of ['config.json', 'model.safetensors']) {
      await downloadFileToCacheDir({
        repo: 'org/tiny',
        path,
        revision: COMMIT_A,
        hubUrl: hub.hubUrl,
        cacheDir: cache,
      });
    }
    const plan = await planSnapshot('org/tiny', opts({ cacheDir: cache, revision: COMMIT_A }));
    assert.deepEqual(plan.files.map((f) => f.path).sort(), [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.equal(
      plan.missingBytes,
      filesA['tokenizer.json']!.length + filesA['tokenizer_config.json']!.length,
    );
    hub.reset();
    const dir = await resolveModelSource(`org/tiny@${COMMIT_A}`, opts({ cacheDir: cache }));
    assert.equal(dir, join(repoDir(cache), 'snapshots', COMMIT_A));
    const bodies = hub.bodyRequests().map((l) => l.url.split('/').pop());
    assert.deepEqual(bodies.sort(), ['tokenizer.json', 'tokenizer_config.json']);
    // now complete (with .no_exist): the next call makes none
    hub.reset();
    await resolveModelSource(`org/tiny@${COMMIT_A}`, opts({ cacheDir: cache }));
    assert.equal(hub.log.length, 0);
  });

  test('revision pinning: a tag, the same via the option, a commit; a missing revision is 404', async () => {
    hub.reset();
    const cache = freshCache();
    const dir = await resolveModelSource('org/tiny@v1', opts({ cacheDir: cache }));
    assert.equal(dir, join(repoDir(cache), 'snapshots', COMMIT_A));
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).rev, 'A');
    assert.ok(!existsSync(join(dir, 'README.md')));
    assert.ok(hub.bodyRequests().every((l) => l.server === 'cdn' || l.url.includes(`/resolve/${COMMIT_A}/`)));
    assert.equal(readFileSync(join(repoDir(cache), 'refs', 'v1'), 'utf8'), COMMIT_A);
    hub.reset();
    assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache, revision: 'v1' })), dir);
    assert.equal(await resolveModelSource(`org/tiny@${COMMIT_A}`, opts({ cacheDir: cache })), dir);
    assert.equal(hub.log.length, 0);
    await assert.rejects(resolveModelSource('org/tiny@v1', opts({ revision: 'main' })), /two revisions/);
    await assert.rejects(
      resolveModelSource('org/tiny@nope', opts({ cacheDir: cache })),
      /org\/tiny@nope was not found on http:\/\/127\.0\.0\.1/,
    );
  });

  test('offline (option or HF_HUB_OFFLINE) uses the cache only and says what is missing', async () => {
    hub.reset();
    const cache = freshCache();
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: cache, offline: true })),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(
          e.message,
          /offline: org\/tiny@main is not complete in the cache .*cache-\d+; run once online/,
        );
        return true;
      },
    );
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    hub.reset();
    assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache, offline: true })), dir);
    await withEnv({ HF_HUB_OFFLINE: '1' }, async () => {
      assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache, refresh: true })), dir);
      await assert.rejects(resolveModelSource('org/tiny@v1', opts({ cacheDir: cache })), /offline/);
    });
    assert.equal(hub.log.length, 0);
  });

  test('a dropped connection mid-file resumes with a Range request on the second host; the file is intact', async () => {
    hub.reset();
    const cache = freshCache();
    hub.faults.drop.set(SHARD1, { after: 1000, count: 1 });
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.deepEqual(readFileSync(join(dir, SHARD1)), filesB[SHARD1]);
    const ranges = hub
      .bodyRequests()
      .filter((l) => l.server === 'cdn' && l.url.includes(sha256(filesB[SHARD1]!)));
    assert.deepEqual(
      ranges.map((l) => l.range ?? 'full'),
      ['full', `bytes=1000-${filesB[SHARD1]!.length - 1}`],
    );
    assert.ok(!hub.overBudget);
  });

  test('a run that gives up leaves no file in the snapshot and no ref; the next run resumes', async () => {
    hub.reset();
    const cache = freshCache();
    hub.faults.drop.set(SHARD2, { after: 100, count: 3 });
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: cache, retries: 1 })),
      (e: Error) => {
        assert.ok(e instanceof UserError, String(e));
        assert.match(
          e.message,
          /model-00002-of-00002\.safetensors.*failed after 2 attempts.*run again to resume from \d+ bytes/,
        );
        return true;
      },
    );
    assert.ok(!existsSync(join(repoDir(cache), 'snapshots', COMMIT_B, SHARD2)));
    assert.ok(!existsSync(join(repoDir(cache), 'refs', 'main')), 'refs are written only when complete');
    const partial = join(repoDir(cache), 'blobs', `${sha256(filesB[SHARD2]!)}.incomplete`);
    const have = readFileSync(partial).length;
    assert.ok(have > 0 && have < filesB[SHARD2]!.length);
    hub.reset();
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.deepEqual(readFileSync(join(dir, SHARD2)), filesB[SHARD2]);
    const cdn = hub.bodyRequests().filter((l) => l.server === 'cdn');
    assert.deepEqual(
      cdn.map((l) => l.range),
      [`bytes=${have}-${filesB[SHARD2]!.length - 1}`],
    );
  });

  test('a corrupt download is deleted, said so and fetched again: sha256 for LFS, git blob hash for small files', async () => {
    hub.reset();
    const cache = freshCache();
    const warnings: string[] = [];
    hub.faults.corrupt.set(SHARD2, 1);
    hub.faults.corrupt.set('tokenizer.json', 1);
    const dir = await resolveModelSource(
      'org/tiny',
      opts({ cacheDir: cache, onWarning: (w) => warnings.push(w) }),
    );
    assert.deepEqual(readFileSync(join(dir, SHARD2)), filesB[SHARD2]);
    assert.deepEqual(readFileSync(join(dir, 'tokenizer.json')), filesB['tokenizer.json']);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(
      warnings.find((w) => w.includes(SHARD2)) ?? '',
      /sha256 [0-9a-f]{64} is not the listed .*deleted it, downloading again/,
    );
    assert.match(
      warnings.find((w) => w.includes('tokenizer.json')) ?? '',
      /git blob hash [0-9a-f]{40} is not the listed/,
    );
    hub.faults.corrupt.set(SHARD1, 10);
    const c2 = freshCache();
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: c2, retries: 1 })),
      /sha256 .* \(deleted\)/,
    );
    assert.ok(
      !names(join(repoDir(c2), 'blobs')).some((f) => f.startsWith(sha256(filesB[SHARD1]!))),
      'nothing kept',
    );
  });

  test('a server that ignores Range on resume is caught and the file restarted', async () => {
    hub.reset();
    const cache = freshCache();
    hub.faults.drop.set(SHARD1, { after: 500, count: 1 });
    hub.faults.ignoreRange = true;
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    const cdn = hub
      .bodyRequests()
      .filter((l) => l.server === 'cdn' && l.url.includes(sha256(filesB[SHARD1]!)));
    // first try (dropped), the resume (answered with the whole file: refused), then a fresh start
    assert.deepEqual(
      cdn.map((l) => l.range?.split('-')[0] ?? 'full'),
      ['full', 'bytes=500', 'full'],
    );
    assert.deepEqual(readFileSync(join(dir, SHARD1)), filesB[SHARD1]);
  });

  test('parallel resolves share one download per file; stale locks (dead pid, empty file) are taken over', async () => {
    hub.reset();
    const cache = freshCache();
    const [a, b] = await Promise.all([
      resolveModelSource('org/tiny', opts({ cacheDir: cache })),
      resolveModelSource('org/tiny', opts({ cacheDir: cache })),
    ]);
    assert.equal(a, b);
    const bodies = hub.bodyRequests();
    assert.equal(bodies.length, new Set(bodies.map((l) => l.url)).size, 'each file fetched once');

    const other = freshCache();
    const locks = join(other, '.locks', 'models--org--tiny');
    mkdirSync(locks, { recursive: true });
    const dead = { pid: 999999999, host: hostname(), since: '2024-01-01T00:00:00Z', token: 'x' };
    writeFileSync(join(locks, `${sha256(filesB[SHARD1]!)}.lock`), JSON.stringify(dead));
    writeFileSync(join(locks, `${sha256(filesB[SHARD2]!)}.lock`), ''); // huggingface_hub's leftover
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: other }));
    assert.deepEqual(readFileSync(join(dir, SHARD1)), filesB[SHARD1]);
    assert.deepEqual(names(locks), []);
  });

  test('a lock a live process holds with flock (as huggingface_hub does) is waited for', async (t) => {
    hub.reset();
    const cache = freshCache();
    const locks = join(cache, '.locks', 'models--org--tiny');
    mkdirSync(locks, { recursive: true });
    const lock = join(locks, `${sha256(filesB[SHARD1]!)}.lock`);
    writeFileSync(lock, '');
    if (spawnSync('flock', ['--version']).status !== 0) return t.skip('no flock(1) on this machine');
    const holder = spawn('flock', [lock, 'sleep', '3'], { stdio: 'ignore' }); // longer than the 1 s grace for empty locks
    await new Promise((r) => setTimeout(r, 300));
    const warnings: string[] = [];
    const t0 = Date.now();
    const dir = await resolveModelSource(
      'org/tiny',
      opts({ cacheDir: cache, onWarning: (w) => warnings.push(w) }),
    );
    assert.ok(Date.now() - t0 > 2300, 'waited for the flock holder');
    assert.ok(
      warnings.some((w) => /waiting for another program/.test(w)),
      warnings.join('\n'),
    );
    assert.deepEqual(readFileSync(join(dir, SHARD1)), filesB[SHARD1]);
    holder.kill();
  });

  test('gated: one line naming the page and how to log in; the token from HF_TOKEN, HF_TOKEN_PATH, $HF_HOME/token', async () => {
    hub.reset();
    const home = join(scratch, 'gated-home');
    const env = {
      HF_HOME: home,
      HF_TOKEN: undefined,
      HUGGING_FACE_HUB_TOKEN: undefined,
      HF_TOKEN_PATH: undefined,
    };
    const o = (cacheDir: string) => ({ cacheDir, hubUrl: hub.hubUrl, retryDelayMs: 10 });
    await withEnv(env, async () => {
      await assert.rejects(resolveModelSource('org/gated', o(freshCache())), (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.equal(
          e.message,
          `org/gated is gated (401): accept its licence at ${hub.hubUrl}/org/gated, then log in with ` +
            `\`HF_ENDPOINT=${hub.hubUrl} hf auth login\` (or set HF_TOKEN)`,
        );
        return true;
      });
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, 'token'), 'hf_not_accepted\n');
      await assert.rejects(resolveModelSource('org/gated', o(freshCache())), (e: Error) => {
        assert.match(
          e.message,
          /^org\/gated is gated and your token \(from .*gated-home\/token\) has no access \(403\)/,
        );
        assert.ok(!e.message.includes('hf_not_accepted'), 'the token is never printed');
        return true;
      });
      writeFileSync(join(home, 'token'), 'hf_accepted\n');
      const dir = await resolveModelSource('org/gated', o(freshCache()));
      assert.ok(existsSync(join(dir, 'model.safetensors')));
      assert.ok(hub.log.filter((l) => l.server === 'cdn').every((l) => !l.auth));
    });
    assert.deepEqual(findHubToken({ HF_TOKEN: ' hf_a ', HF_HOME: home }), {
      token: 'hf_a',
      source: 'HF_TOKEN',
    });
    const path = join(scratch, 'token-file');
    writeFileSync(path, 'hf_b');
    assert.deepEqual(findHubToken({ HF_TOKEN_PATH: path, HF_HOME: home }), { token: 'hf_b', source: path });
    assert.deepEqual(findHubToken({ HF_HOME: home }), { token: 'hf_accepted', source: join(home, 'token') });
    assert.equal(findHubToken({ HF_HOME: join(scratch, 'nobody') }), undefined);
  });

  test('a repository on Xet storage downloads through the Xet protocol, and resumes', async () => {
    hub.reset();
    const cache = freshCache();
    const dir = await resolveModelSource('org/xet', opts({ cacheDir: cache }));
    assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), filesA['model.safetensors']);
    assert.ok(hub.log.some((l) => l.url.startsWith('/v2/reconstructions/')));
    assert.ok(hub.log.some((l) => l.url.startsWith('/xorbs/')));
    assert.ok(!hub.log.some((l) => l.url.startsWith('/lfs/')), 'nothing through the plain LFS route');
    // A dropped xorb transfer: the next attempt asks the reconstruction for the rest only.
    const xorbs = [
      ...new Set(hub.log.filter((l) => l.url.startsWith('/xorbs/')).map((l) => l.url.split(/[/?]/)[2])),
    ];
    assert.ok(xorbs.length >= 2, `${xorbs.length} xorbs`);
    hub.reset();
    // twice: the Xet client retries a failed xorb once by itself
    hub.faults.drop.set(`xorb:${xorbs[1]}`, { after: 100, count: 2 });
    const weights = filesA['model.safetensors']!;
    const again = await resolveModelSource('org/xet', opts({ cacheDir: freshCache() }));
    assert.deepEqual(readFileSync(join(again, 'model.safetensors')), weights);
    const recon = hub.log.filter((l) => l.url.startsWith('/v2/reconstructions/')).map((l) => l.range ?? '');
    assert.equal(recon.length, 2, recon.join(' '));
    assert.equal(recon[0], `bytes=0-${weights.length - 1}`);
    const from = Number(/^bytes=(\d+)-/.exec(recon[1]!)?.[1]);
    assert.ok(from > 0 && from < weights.length, `resumed from ${from}`);
  });

  test("a cache written by @huggingface/hub's snapshotDownload is read offline", async () => {
    hub.reset();
    const cache = freshCache();
    const snap = await snapshotDownload({
      repo: 'org/tiny',
      revision: 'v1',
      hubUrl: hub.hubUrl,
      cacheDir: cache,
    });
    hub.reset();
    const dir = await resolveModelSource('org/tiny@v1', opts({ cacheDir: cache, offline: true }));
    assert.equal(dir, snap);
    assert.equal(hub.log.length, 0);
    const ck = await openCheckpoint(dir);
    assert.equal(ck.config['rev'], 'A');
    await ck.close();
  });

  test('clear errors: unknown or private repo, no safetensors, unreachable Hub', async () => {
    hub.reset();
    await assert.rejects(
      resolveModelSource('org/missing', opts({ cacheDir: freshCache() })),
      /^UserError: org\/missing was not found or is private \(401\): check the id, or log in/,
    );
    await assert.rejects(
      resolveModelSource('org/missing', opts({ cacheDir: freshCache(), token: 'hf_x' })),
      /org\/missing@main was not found/,
    );
    await assert.rejects(
      resolveModelSource('org/binonly', opts({ cacheDir: freshCache() })),
      /no safetensors weights \(it has pytorch_model\.bin/,
    );
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: freshCache(), hubUrl: 'http://127.0.0.1:9' })),
      (e: Error) => e instanceof UserError && /cannot reach/.test(e.message),
    );
    // With a complete cached snapshot, an unreachable Hub falls back to it, with a warning.
    const cache = freshCache();
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    const warnings: string[] = [];
    const fallback = await resolveModelSource(
      'org/tiny',
      opts({
        cacheDir: cache,
        refresh: true,
        hubUrl: 'http://127.0.0.1:9',
        onWarning: (m) => warnings.push(m),
      }),
    );
    assert.equal(fallback, dir);
    assert.match(warnings.join('\n'), /cannot reach .*using the cached snapshot/);
    await assert.rejects(resolveModelSource('org/tiny@nope', opts({ cacheDir: cache })), /not found/);
    assert.equal(parseHubId('a b/c'), undefined);
    assert.deepEqual(parseHubId('EleutherAI/pythia-160m@step1000'), {
      repo: 'EleutherAI/pythia-160m',
      revision: 'step1000',
    });
    await assert.rejects(resolveModelSource('a/b/c', opts()), /no model directory/);
    assert.ok(!hub.overBudget);
  });
});
