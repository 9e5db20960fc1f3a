import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { sha256File } from '../util/fsx.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { cachedNycOutlinesPath, fetchDatasets, planFetchAll, sourceLocation } from './fetch.js';
import { loadDataset } from './load.js';
import { DATASETS, NYC_BOROUGH_OUTLINES, PAPER_BASE_URL } from './registry.js';

const shared = sharedForTests();
const PAPER = shared ? join(shared, 'data', 'paper') : '';
const skip = skipWithoutShared();

/** A static file server on 127.0.0.1 (port 0) whose root can be switched; counts requests. */
class FileServer {
  root = '';
  requests: string[] = [];
  private server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
    this.requests.push(name);
    const path = join(this.root, name);
    if (name.includes('..') || !existsSync(path)) {
      res.writeHead(404, 'Not Found').end('not found');
      return;
    }
    const body = readFileSync(path);
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': body.length }).end(body);
  });
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/data/`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

describe('datasets fetch over HTTP', { skip }, () => {
  const server = new FileServer();
  let base = '';
  before(async () => {
    base = await server.start();
  });
  after(() => server.stop());

  it('downloads the four published CSVs, verifies SHA-256, caches them under SPACETIME_LENS_CACHE', async () => {
    // Serve under /data/ so the base URL has a path, like the authors' raw URL.
    server.root = tmp('stl-serve-');
    const dataDir = join(server.root, 'data');
    mkdirSync(dataDir);
    for (const n of ['world_place', 'us_place', 'nyc_place', 'art'])
      copyFileSync(join(PAPER, `${n}.csv`), join(dataDir, `${n}.csv`));
    copyFileSync(join(PAPER, NYC_BOROUGH_OUTLINES.file), join(dataDir, NYC_BOROUGH_OUTLINES.file));
    const cache = tmp('stl-cache-');
    const saved = process.env['SPACETIME_LENS_CACHE'];
    process.env['SPACETIME_LENS_CACHE'] = cache;
    try {
      const lines: string[] = [];
      const results = await fetchDatasets(['world_place', 'us_place', 'nyc_place', 'art'], {
        source: base,
        log: (l) => lines.push(l),
      });
      assert.deepEqual(
        results.map((r) => [r.name, r.status, r.verified, r.rows]),
        [
          ['world_place', 'downloaded', true, 39585],
          ['us_place', 'downloaded', true, 29997],
          ['nyc_place', 'downloaded', true, 19838],
          ['art', 'downloaded', true, 31321],
        ],
      );
      for (const r of results) {
        assert.equal(r.path, join(cache, 'datasets', `${r.name}.csv`));
        assert.equal(await sha256File(r.path), DATASETS[r.name].sha256);
      }
      assert.deepEqual(readdirSync(join(cache, 'datasets')).sort(), [
        'art.csv',
        'nyc_borough_boundaries.geojson',
        'nyc_place.csv',
        'us_place.csv',
        'world_place.csv',
      ]);
      // The borough outlines came with nyc_place, verified against the digest of the shared copy.
      assert.equal(
        await sha256File(cachedNycOutlinesPath()),
        await sha256File(join(PAPER, NYC_BOROUGH_OUTLINES.file)),
      );
      assert.ok(lines.some((l) => /nyc_borough_boundaries\.geojson: sha256 verified/.test(l)));
      assert.match(lines[0], /world_place: 39585 rows, 3894740 bytes, sha256 verified/);
      // Now loadable by name; a second fetch is served from the cache without a request.
      const art = await loadDataset('art');
      assert.equal(art.n, 31321);
      const before = server.requests.length;
      const again = await fetchDatasets(['art']);
      assert.equal(again[0].status, 'cached');
      assert.equal(server.requests.length, before);
    } finally {
      if (saved === undefined) delete process.env['SPACETIME_LENS_CACHE'];
      else process.env['SPACETIME_LENS_CACHE'] = saved;
    }
  });

  it('a tampered file fails its checksum and leaves no file', async () => {
    server.root = tmp('stl-serve-');
    const dataDir = join(server.root, 'data');
    mkdirSync(dataDir);
    const good = readFileSync(join(PAPER, 'art.csv'));
    const bad = Buffer.from(good);
    bad[bad.length - 10] ^= 1; // one flipped bit
    writeFileSync(join(dataDir, 'art.csv'), bad);
    const cache = tmp('stl-cache-');
    await assert.rejects(fetchDatasets(['art'], { source: base, dir: cache }), (err: Error) => {
      assert.equal(err.name, 'UserError');
      assert.match(
        err.message,
        /^checksum mismatch for art from http:\/\/127\.0\.0\.1:\d+\/data\/art\.csv: expected sha256 37ef497d/,
      );
      assert.match(err.message, /nothing was saved$/);
      return true;
    });
    assert.deepEqual(readdirSync(cache), []);
  });

  it('tampered NYC borough outlines fail their checksum and leave no file', async () => {
    server.root = tmp('stl-serve-');
    const dataDir = join(server.root, 'data');
    mkdirSync(dataDir);
    copyFileSync(join(PAPER, 'nyc_place.csv'), join(dataDir, 'nyc_place.csv'));
    const outlines = Buffer.from(readFileSync(join(PAPER, NYC_BOROUGH_OUTLINES.file)));
    outlines[500] ^= 1;
    writeFileSync(join(dataDir, NYC_BOROUGH_OUTLINES.file), outlines);
    const cache = tmp('stl-cache-');
    await assert.rejects(
      fetchDatasets(['nyc_place'], { source: base, dir: cache }),
      /^UserError: checksum mismatch for nyc_borough_boundaries\.geojson/,
    );
    assert.ok(!existsSync(cachedNycOutlinesPath(cache)));
  });

  it('a missing file is a clear HTTP error pointing to --source', async () => {
    const cache = tmp('stl-cache-');
    await assert.rejects(
      fetchDatasets(['historical_figure'], { source: base, dir: cache }),
      /HTTP 404 .*--source/,
    );
    assert.deepEqual(readdirSync(cache), []);
  });

  it('datasets without a known digest are fetched "unverified", but still validated', async () => {
    server.root = tmp('stl-serve-');
    const dataDir = join(server.root, 'data');
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, 'historical_figure.csv'),
      'name,death_year,is_test\nAda Lovelace,1852,False\nCaesar,-44,True\n',
    );
    writeFileSync(join(dataDir, 'headline.csv'), 'headline,is_test\nNo date column.,False\n');
    const cache = tmp('stl-cache-');
    const lines: string[] = [];
    const [r] = await fetchDatasets(['historical_figure'], {
      source: base,
      dir: cache,
      log: (l) => lines.push(l),
    });
    assert.deepEqual([r.status, r.verified, r.rows], ['downloaded', false, 2]);
    assert.match(lines[0], /unverified: no known digest/);
    await assert.rejects(
      fetchDatasets(['headline'], { source: base, dir: cache }),
      /missing column "pub_date"/,
    );
    assert.deepEqual(readdirSync(cache), ['historical_figure.csv']);
  });
});

describe('datasets fetch from a directory', { skip }, () => {
  it('copies and verifies; --force re-copies', async () => {
    const cache = tmp('stl-cache-');
    const [r] = await fetchDatasets(['us_place'], { source: PAPER, dir: cache });
    assert.deepEqual([r.status, r.verified, r.rows], ['copied', true, 29997]);
    const [again] = await fetchDatasets(['us_place'], { source: PAPER, dir: cache, force: true });
    assert.equal(again.status, 'copied');
  });
  it('rejects unknown names, world_cities and missing files', async () => {
    await assert.rejects(fetchDatasets(['nope']), /unknown dataset "nope"/);
    await assert.rejects(fetchDatasets(['world_cities']), /built offline/);
    await assert.rejects(fetchDatasets([]), /at least one/);
    await assert.rejects(
      fetchDatasets(['headline'], { source: PAPER, dir: tmp('stl-cache-') }),
      /no such file/,
    );
  });
  it('knows the default source', () => {
    assert.equal(
      sourceLocation('art'),
      'https://raw.githubusercontent.com/wesg52/world-models/main/data/entity_datasets/art.csv',
    );
    assert.equal(PAPER_BASE_URL.endsWith('/'), true);
    assert.equal(sourceLocation('art', 'http://mirror.example/x'), 'http://mirror.example/x/art.csv');
  });
});

describe('datasets fetch all: what it skips, and the --source hint', { skip }, () => {
  it('without --source: the four published CSVs; historical_figure and headline listed as skipped, with why', async () => {
    const plan = planFetchAll();
    assert.deepEqual(plan.names, ['world_place', 'us_place', 'nyc_place', 'art']);
    assert.deepEqual(
      plan.skipped.map((s) => s.name),
      ['historical_figure', 'headline'],
    );
    for (const s of plan.skipped) assert.match(s.reason, /no public source URL.*--source DIR_OR_URL/);
  });

  it('CLI: `fetch all` prints the skipped datasets and the reason (everything else already cached: no network)', async () => {
    const cache = tmp('stl-cache-');
    const saved = process.env['SPACETIME_LENS_CACHE'];
    process.env['SPACETIME_LENS_CACHE'] = cache;
    try {
      const names = ['world_place', 'us_place', 'nyc_place', 'art'];
      await fetchDatasets(names, { source: PAPER });
      const r = await runCliCaptured(['datasets', 'fetch', 'all']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^historical_figure: skipped: not in the authors' repository .*--source/m);
      assert.match(r.out, /^headline: skipped: not in the authors' repository .*--source/m);
      assert.match(r.out, /^0 fetched, 4 already cached, 2 skipped \(historical_figure, headline\)$/m);
    } finally {
      if (saved === undefined) delete process.env['SPACETIME_LENS_CACHE'];
      else process.env['SPACETIME_LENS_CACHE'] = saved;
    }
  });

  it('with a --source folder: every dataset whose CSV is there; the others skipped as absent', () => {
    const dir = tmp('stl-src-');
    writeFileSync(join(dir, 'headline.csv'), 'headline,pub_date,is_test\n');
    const plan = planFetchAll(dir);
    assert.deepEqual(plan.names, ['headline']);
    assert.equal(plan.skipped.length, 5);
    assert.match(plan.skipped[0]!.reason, /^no world_place\.csv in /);
  });

  it('a refused connection and an HTTP error both suggest --source DIR_OR_URL', async () => {
    const closed = new FileServer();
    const url = await closed.start();
    await closed.stop(); // nothing listens on that port any more
    await assert.rejects(
      fetchDatasets(['art'], { source: url, dir: tmp('stl-cache-') }),
      /cannot download http:\/\/127\.0\.0\.1:\d+\/data\/art\.csv: .*ECONNREFUSED.*pass --source DIR_OR_URL \(a folder or mirror holding art\.csv\)/,
    );
    const server = new FileServer();
    server.root = tmp('stl-serve-');
    const base = await server.start();
    try {
      await assert.rejects(
        fetchDatasets(['art'], { source: base, dir: tmp('stl-cache-') }),
        /HTTP 404 Not Found; .*pass --source DIR_OR_URL/,
      );
    } finally {
      await server.stop();
    }
  });
});
