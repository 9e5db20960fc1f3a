// resolveModelSource against a local HTTP server laid out like the Hub: the API routes @huggingface/hub calls
// (model info at a revision, tree listing) and /{repo}/resolve/{revision}/{path} with Range support, plus fault
// injection (dropped connections, corrupt bytes, a server that ignores Range).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { openCheckpoint } from './checkpoint.js';
import { parseHubId, type ResolveOptions, repoFolderName, resolveModelSource } from './hub.js';
import { loadTokenizer } from './tokenizer.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'loading');
const read = (...p: string[]) => readFileSync(join(fixtures, ...p));
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Two commits of org/tiny: A (tag v1) has a single-file F32 checkpoint, B (main) a 2-shard BF16 one.
const COMMIT_A = sha1(Buffer.from('commit A'));
const COMMIT_B = sha1(Buffer.from('commit B'));
const tokenizerFiles = {
  'tokenizer.json': read('tiny-gpt2', 'tokenizer.json'),
  'tokenizer_config.json': read('tiny-gpt2', 'tokenizer_config.json'),
};
const commits: Record<string, Record<string, Buffer>> = {
  [COMMIT_A]: {
    'config.json': Buffer.from(JSON.stringify({ model_type: 'gpt2', n_layer: 1, rev: 'A' })),
    ...tokenizerFiles,
    'model.safetensors': read('checkpoints', 'f32', 'model.safetensors'),
    'README.md': Buffer.from('# tiny\n'),
  },
  [COMMIT_B]: {
    'config.json': Buffer.from(JSON.stringify({ model_type: 'gpt2', n_layer: 1, rev: 'B' })),
    ...tokenizerFiles,
    'model.safetensors.index.json': read('checkpoints', 'sharded', 'model.safetensors.index.json'),
    'model-00001-of-00002.safetensors': read('checkpoints', 'sharded', 'model-00001-of-00002.safetensors'),
    'model-00002-of-00002.safetensors': read('checkpoints', 'sharded', 'model-00002-of-00002.safetensors'),
    'pytorch_model.bin': Buffer.from('not wanted'),
  },
};
const COMMIT_BIN = sha1(Buffer.from('bin only'));
commits[COMMIT_BIN] = { 'config.json': Buffer.from('{}'), 'pytorch_model.bin': Buffer.from('x') };
const repos: Record<string, { refs: Record<string, string>; token?: string }> = {
  'org/tiny': { refs: { main: COMMIT_B, v1: COMMIT_A } },
  'org/gated': { refs: { main: COMMIT_A }, token: 'hf_secret' },
  'org/binonly': { refs: { main: COMMIT_BIN } },
};

interface Logged {
  url: string;
  range?: string;
}
const faults = {
  /** path -> bytes to send before dropping the connection, for the next `count` full/ranged body requests. */
  drop: new Map<string, { after: number; count: number }>(),
  corrupt: new Map<string, number>(),
  ignoreRange: false,
};
let log: Logged[] = [];

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  log.push({ url: url.pathname, range: req.headers.range });
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const api = parts[0] === 'api' && parts[1] === 'models';
  const [owner, name] = api ? parts.slice(2, 4) : parts.slice(0, 2);
  const repo = repos[`${owner}/${name}`];
  if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
  if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
    return json(res, 401, { error: 'Access to this model is restricted' });
  }
  const route = api ? parts[4] : parts[2];
  const rev = api ? parts[5] : parts[3];
  const commit = rev && commits[rev] ? rev : repo.refs[rev ?? ''];
  if (!commit)
    return json(res, 404, { error: `Revision ${rev} not found` }, { 'X-Error-Code': 'RevisionNotFound' });
  const files = commits[commit];
  if (api && route === 'revision') {
    return json(res, 200, {
      _id: 'x',
      id: `${owner}/${name}`,
      sha: commit,
      private: false,
      gated: false,
      downloads: 0,
      likes: 0,
      lastModified: '2024-01-01T00:00:00.000Z',
      pipeline_tag: 'text-generation',
    });
  }
  if (api && route === 'tree') {
    return json(
      res,
      200,
      Object.entries(files).map(([path, data]) => ({
        type: 'file',
        path,
        size: data.length,
        oid: sha1(data),
        ...(path.endsWith('.safetensors')
          ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 130 } }
          : {}),
      })),
    );
  }
  if (!api && route === 'resolve') {
    const path = parts.slice(4).join('/');
    const data = files[path];
    if (!data) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    return sendFile(req, res, path, data, commit);
  }
  json(res, 404, { error: 'no route' });
}

function sendFile(req: IncomingMessage, res: ServerResponse, path: string, data: Buffer, commit: string) {
  const headers = { ETag: `"${sha1(data)}"`, 'X-Repo-Commit': commit, 'Accept-Ranges': 'bytes' };
  let body = data;
  let status = 200;
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const probe = m && m[1] === '0' && m[2] === '0';
  if (m && (probe || !faults.ignoreRange)) {
    const start = Number(m[1]);
    const end = m[2] ? Number(m[2]) : data.length - 1;
    body = data.subarray(start, end + 1);
    status = 206;
    Object.assign(headers, { 'Content-Range': `bytes ${start}-${end}/${data.length}` });
  }
  if (!probe && faults.corrupt.get(path)) {
    faults.corrupt.set(path, (faults.corrupt.get(path) ?? 1) - 1);
    body = Buffer.from(body);
    body[body.length - 1] ^= 0xff;
  }
  res.writeHead(status, {
    ...headers,
    'Content-Length': String(body.length),
    'Content-Type': 'application/octet-stream',
  });
  const drop = faults.drop.get(path);
  if (!probe && drop && drop.count > 0 && body.length > drop.after) {
    drop.count--;
    res.write(body.subarray(0, drop.after), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  res.end(body);
}

let server: Server;
let hubUrl: string;
const scratch = mkdtempSync(join(tmpdir(), 'stl-hub-'));
let caches = 0;
const freshCache = () => join(scratch, `cache-${caches++}`);
const opts = (o: Partial<ResolveOptions> = {}): ResolveOptions => ({
  hubUrl,
  retryDelayMs: 10,
  token: '',
  ...o,
});

before(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(scratch, { recursive: true, force: true });
});

function resetFaults() {
  faults.drop.clear();
  faults.corrupt.clear();
  faults.ignoreRange = false;
  log = [];
}

const snapshotFiles = (dir: string) => readdirSync(dir).sort();
const noIncomplete = (cache: string) => {
  const blobs = join(cache, repoFolderName('org/tiny'), 'blobs');
  assert.deepEqual(
    readdirSync(blobs).filter((f) => f.endsWith('.incomplete')),
    [],
  );
};

describe('resolveModelSource', () => {
  test('a local directory is returned as is, with zero network calls', async () => {
    resetFaults();
    const dir = join(fixtures, 'checkpoints', 'f32');
    assert.equal(await resolveModelSource(dir, opts()), dir);
    assert.equal(log.length, 0);
    await assert.rejects(resolveModelSource('./no/such/dir', opts()), /no model directory/);
    assert.equal(log.length, 0);
  });

  test('a Hub id downloads main into the Hub cache layout, only the needed files', async () => {
    resetFaults();
    const cache = freshCache();
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.equal(dir, join(cache, 'models--org--tiny', 'snapshots', COMMIT_B));
    assert.deepEqual(snapshotFiles(dir), [
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const f of snapshotFiles(dir)) assert.deepEqual(readFileSync(join(dir, f)), commits[COMMIT_B][f], f);
    assert.ok(lstatSync(join(dir, 'config.json')).isSymbolicLink());
    assert.equal(readFileSync(join(cache, 'models--org--tiny', 'refs', 'main'), 'utf8'), COMMIT_B);
    const shard = commits[COMMIT_B]['model-00001-of-00002.safetensors'];
    assert.ok(
      existsSync(join(cache, 'models--org--tiny', 'blobs', sha256(shard))),
      'LFS blobs are named by sha256',
    );
    // The result loads as a checkpoint.
    const ck = await openCheckpoint(dir);
    assert.equal(ck.weightDtype, 'BF16');
    assert.equal(ck.config['rev'], 'B');
    await ck.close();
    assert.equal((await loadTokenizer(dir)).name, `org/tiny@${COMMIT_B.slice(0, 12)}`);
    noIncomplete(cache);

    // Second call: the listing is checked again (branch may move) but nothing is downloaded.
    log = [];
    assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache })), dir);
    assert.equal(log.filter((l) => l.url.includes('/resolve/')).length, 0);
  });

  test('revision pinning: a tag, the same via the option, a commit hash', async () => {
    resetFaults();
    const cache = freshCache();
    const dir = await resolveModelSource('org/tiny@v1', opts({ cacheDir: cache }));
    assert.equal(dir, join(cache, 'models--org--tiny', 'snapshots', COMMIT_A));
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).rev, 'A');
    assert.ok(existsSync(join(dir, 'model.safetensors')));
    assert.ok(!existsSync(join(dir, 'README.md')));
    assert.ok(
      log.filter((l) => l.url.includes('/resolve/')).every((l) => l.url.includes(`/resolve/${COMMIT_A}/`)),
    );
    assert.equal(readFileSync(join(cache, 'models--org--tiny', 'refs', 'v1'), 'utf8'), COMMIT_A);
    assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache, revision: 'v1' })), dir);
    // A complete snapshot pinned by commit needs no network at all.
    log = [];
    assert.equal(await resolveModelSource(`org/tiny@${COMMIT_A}`, opts({ cacheDir: cache })), dir);
    assert.equal(log.length, 0);
    await assert.rejects(resolveModelSource('org/tiny@v1', opts({ revision: 'main' })), /two revisions/);
    await assert.rejects(resolveModelSource('org/tiny@nope', opts({ cacheDir: cache })), /not found/);
  });

  test('offline mode uses the cache only and says what is missing', async () => {
    resetFaults();
    const cache = freshCache();
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: cache, offline: true })),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /offline: org\/tiny@main is not in the cache/);
        return true;
      },
    );
    assert.equal(log.length, 0);
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    log = [];
    assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache, offline: true })), dir);
    process.env['HF_HUB_OFFLINE'] = '1';
    try {
      assert.equal(await resolveModelSource('org/tiny', opts({ cacheDir: cache })), dir);
      await assert.rejects(resolveModelSource('org/tiny@v1', opts({ cacheDir: cache })), /offline/);
    } finally {
      delete process.env['HF_HUB_OFFLINE'];
    }
    assert.equal(log.length, 0);
  });

  test('a dropped connection mid-file resumes with a Range request; the file is intact', async () => {
    resetFaults();
    const cache = freshCache();
    faults.drop.set('model-00001-of-00002.safetensors', { after: 1000, count: 1 });
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.deepEqual(
      readFileSync(join(dir, 'model-00001-of-00002.safetensors')),
      commits[COMMIT_B]['model-00001-of-00002.safetensors'],
    );
    const resumed = log.filter((l) => l.url.endsWith('model-00001-of-00002.safetensors') && l.range);
    assert.ok(
      resumed.some((l) => /^bytes=([1-9]\d*)-/.test(l.range ?? '')),
      `expected a resumed range, got ${JSON.stringify(resumed)}`,
    );
    noIncomplete(cache);
  });

  test('a run that gives up leaves no file in the snapshot; the next run resumes', async () => {
    resetFaults();
    const cache = freshCache();
    faults.drop.set('model-00002-of-00002.safetensors', { after: 100, count: 3 });
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: cache, retries: 1 })),
      (e: Error) => {
        assert.ok(e instanceof UserError, String(e));
        assert.match(
          e.message,
          /model-00002-of-00002\.safetensors.*failed after 2 attempts.*run again to resume/,
        );
        return true;
      },
    );
    const snap = join(cache, 'models--org--tiny', 'snapshots', COMMIT_B);
    assert.ok(!existsSync(join(snap, 'model-00002-of-00002.safetensors')));
    assert.ok(
      !existsSync(join(cache, 'models--org--tiny', 'refs', 'main')),
      'refs are written only when complete',
    );
    await assert.rejects(resolveModelSource('org/tiny', opts({ cacheDir: cache, offline: true })), /offline/);
    const shard2 = commits[COMMIT_B]['model-00002-of-00002.safetensors'];
    const partial = join(cache, 'models--org--tiny', 'blobs', `${sha256(shard2)}.incomplete`);
    const have = readFileSync(partial).length;
    assert.ok(have > 0 && have < shard2.length);
    resetFaults();
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.deepEqual(readFileSync(join(dir, 'model-00002-of-00002.safetensors')), shard2);
    const gets = log.filter(
      (l) => l.url.endsWith('model-00002-of-00002.safetensors') && l.range !== 'bytes=0-0',
    );
    assert.deepEqual(
      gets.map((l) => l.range),
      [`bytes=${have}-${shard2.length - 1}`],
    );
    noIncomplete(cache);
  });

  test('corrupt bytes fail the sha256 check and are downloaded again', async () => {
    resetFaults();
    const cache = freshCache();
    faults.corrupt.set('model-00002-of-00002.safetensors', 1);
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    assert.deepEqual(
      readFileSync(join(dir, 'model-00002-of-00002.safetensors')),
      commits[COMMIT_B]['model-00002-of-00002.safetensors'],
    );
    faults.corrupt.set('model-00001-of-00002.safetensors', 10);
    await assert.rejects(
      resolveModelSource('org/tiny', opts({ cacheDir: freshCache(), retries: 1 })),
      /sha256/,
    );
  });

  test('a server that ignores Range on resume is caught and the file restarted', async () => {
    resetFaults();
    const cache = freshCache();
    faults.drop.set('model-00001-of-00002.safetensors', { after: 500, count: 1 });
    faults.ignoreRange = true;
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: cache }));
    const gets = log.filter(
      (l) => l.url.endsWith('model-00001-of-00002.safetensors') && l.range !== 'bytes=0-0',
    );
    // first try (dropped), the resume (answered with the whole file: refused), then a fresh start
    assert.deepEqual(
      gets.map((l) => l.range?.split('-')[0] ?? 'full'),
      ['full', 'bytes=500', 'full'],
    );
    assert.deepEqual(
      readFileSync(join(dir, 'model-00001-of-00002.safetensors')),
      commits[COMMIT_B]['model-00001-of-00002.safetensors'],
    );
    noIncomplete(cache);
  });

  test('parallel resolves share one download per file; a stale lock is taken over', async () => {
    resetFaults();
    const cache = freshCache();
    const [a, b] = await Promise.all([
      resolveModelSource('org/tiny', opts({ cacheDir: cache })),
      resolveModelSource('org/tiny', opts({ cacheDir: cache })),
    ]);
    assert.equal(a, b);
    const bodies = log.filter((l) => l.url.includes('/resolve/') && l.range !== 'bytes=0-0');
    assert.equal(bodies.length, new Set(bodies.map((l) => l.url)).size, 'each file fetched once');
    for (const f of snapshotFiles(a)) assert.deepEqual(readFileSync(join(a, f)), commits[COMMIT_B][f], f);

    const other = freshCache();
    const blobs = join(other, 'models--org--tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    const shard = commits[COMMIT_B]['model-00001-of-00002.safetensors'];
    writeFileSync(join(blobs, `${sha256(shard)}.lock`), '999999999'); // no such process
    const dir = await resolveModelSource('org/tiny', opts({ cacheDir: other }));
    assert.deepEqual(readFileSync(join(dir, 'model-00001-of-00002.safetensors')), shard);
    assert.deepEqual(
      readdirSync(blobs).filter((f) => f.endsWith('.lock')),
      [],
    );
  });

  test('gated repositories need a token', async () => {
    resetFaults();
    await assert.rejects(resolveModelSource('org/gated', opts({ cacheDir: freshCache() })), /HF_TOKEN/);
    const dir = await resolveModelSource('org/gated', opts({ cacheDir: freshCache(), token: 'hf_secret' }));
    assert.ok(existsSync(join(dir, 'model.safetensors')));
  });

  test('clear errors: unknown repo, no safetensors, unreachable Hub, bad ids', async () => {
    resetFaults();
    await assert.rejects(
      resolveModelSource('org/missing', opts({ cacheDir: freshCache() })),
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
    const offlineDir = await resolveModelSource(
      'org/tiny',
      opts({ cacheDir: cache, hubUrl: 'http://127.0.0.1:9', onWarning: (m) => warnings.push(m) }),
    );
    assert.equal(offlineDir, dir);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /cannot reach .*using the cached snapshot/);
    // A Hub that answers with an error is not papered over.
    await assert.rejects(resolveModelSource('org/tiny@nope', opts({ cacheDir: cache })), /not found/);
    assert.equal(parseHubId('a b/c'), undefined);
    assert.deepEqual(parseHubId('EleutherAI/pythia-160m@step1000'), {
      repo: 'EleutherAI/pythia-160m',
      revision: 'step1000',
    });
    assert.deepEqual(parseHubId('gpt2'), { repo: 'gpt2', revision: 'main' });
    await assert.rejects(resolveModelSource('a/b/c', opts()), /no model directory/);
  });
});
