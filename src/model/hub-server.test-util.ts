// A local Hugging Face Hub for the tests: two real HTTP servers on 127.0.0.1 that speak the Hub's protocol as the
// Hub does, so that our code and @huggingface/hub's own functions run unchanged against it.
//
// The "hub" (api + resolve):
//   GET  /api/models/{repo}/revision/{rev}        model info with `sha`; 404 RevisionNotFound; an unknown repo is
//                                                 401 RepoNotFound without a token (the Hub hides private repos)
//   GET  /api/models/{repo}/tree/{rev}            the listing (oid, size, lfs {oid, size}, xetHash), paginated with
//                                                 a Link: rel="next" header like the Hub
//   POST /api/models/{repo}/paths-info/{rev}      what downloadFileToCacheDir asks
//   GET  /api/models/{repo}/xet-read-token/{rev}  a CAS token and the CAS url (the second server)
//   GET  /{repo}/resolve/{rev}/{path}             small files: 200/206 with ETag = git oid and X-Repo-Commit; LFS
//                                                 files: 302 to the second server with X-Linked-Etag (sha256),
//                                                 X-Linked-Size, X-Repo-Commit; Xet files asked with the xet Accept
//                                                 header: the xet file-info answer (X-Xet-Hash, Link rel=xet-auth
//                                                 and xet-reconstruction-info); gated repos: 401 without a token,
//                                                 403 with a token not on the list (X-Error-Code: GatedRepo)
// The "cdn" (the second host:port): /lfs/{sha256} with Range, /v2/reconstructions/{hash} and /xorbs/{hash}
// (Xet's download protocol with uncompressed chunks). It records any Authorization header it is sent, which must
// never be the Hub token.
//
// Faults: a connection dropped after N bytes, corrupt bytes, a server that ignores Range. Every request is logged
// and counted; past `budget` requests the servers answer 503 and flag `overBudget`, so a client loop cannot spin.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** git's blob id, what the Hub lists as `oid` for a non-LFS file. */
export const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export interface HubRepo {
  refs: Record<string, string>;
  /** Gated: these tokens have accepted the licence; others get 403, no token 401. */
  gatedFor?: string[];
  /** LFS files of this repo are stored on Xet. */
  xet?: boolean;
}

export interface Logged {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  auth?: string;
  accept?: string;
}

const isLfs = (path: string) => path.endsWith('.safetensors');
const XET_CHUNK = 512;
const CHUNKS_PER_XORB = 4;
const XET_TOKEN = 'xet-cas-token';

interface Xorb {
  hash: string;
  bytes: Buffer;
  /** Byte offset of each chunk (header included) in `bytes`, plus the end. */
  offsets: number[];
  firstChunk: number;
}

/** Splits a file into xorbs of uncompressed chunks (8-byte header: version 0, sizes, scheme 0 = none). */
function toXorbs(data: Buffer): Xorb[] {
  const xorbs: Xorb[] = [];
  const nChunks = Math.ceil(data.length / XET_CHUNK);
  for (let first = 0; first < nChunks; first += CHUNKS_PER_XORB) {
    const parts: Buffer[] = [];
    const offsets = [0];
    for (let c = first; c < Math.min(nChunks, first + CHUNKS_PER_XORB); c++) {
      const raw = data.subarray(c * XET_CHUNK, (c + 1) * XET_CHUNK);
      const header = Buffer.alloc(8);
      header.writeUIntLE(raw.length, 1, 3);
      header.writeUIntLE(raw.length, 5, 3);
      parts.push(header, raw);
      offsets.push(offsets.at(-1)! + 8 + raw.length);
    }
    const bytes = Buffer.concat(parts);
    xorbs.push({ hash: sha256(bytes), bytes, offsets, firstChunk: first });
  }
  return xorbs;
}

export class LocalHub {
  readonly repos: Record<string, HubRepo> = {};
  readonly commits: Record<string, Record<string, Buffer>> = {};
  log: Logged[] = [];
  budget = 400;
  overBudget = false;
  /** Entries per tree page (the Hub uses 1000; small here so that pagination is exercised). */
  pageSize = 4;
  readonly faults = {
    /** path -> bytes to send before dropping the connection, for the next `count` body requests. */
    drop: new Map<string, { after: number; count: number }>(),
    /** path -> number of body responses with their last byte flipped. */
    corrupt: new Map<string, number>(),
    ignoreRange: false,
  };
  hubUrl = '';
  cdnUrl = '';
  private readonly servers: Server[] = [];
  private readonly xorbs = new Map<string, Xorb>();
  private readonly xetFiles = new Map<string, Xorb[]>();
  private readonly lfsBlobs = new Map<string, { path: string; data: Buffer }>();

  /** Adds a commit's files (and indexes LFS/Xet blobs). */
  addCommit(commit: string, files: Record<string, Buffer>, xet = false): void {
    this.commits[commit] = files;
    for (const [path, data] of Object.entries(files)) {
      if (!isLfs(path)) continue;
      this.lfsBlobs.set(sha256(data), { path, data });
      if (xet) {
        const xorbs = toXorbs(data);
        for (const x of xorbs) this.xorbs.set(x.hash, x);
        this.xetFiles.set(sha256(data), xorbs);
      }
    }
  }

  async start(): Promise<void> {
    for (const [name, handler] of [
      ['hub', this.hub],
      ['cdn', this.cdn],
    ] as const) {
      const server = createServer((req, res) => {
        const logged: Logged = { server: name, method: req.method ?? 'GET', url: req.url ?? '/' };
        if (req.headers.range) logged.range = req.headers.range;
        if (req.headers.authorization) logged.auth = req.headers.authorization;
        if (req.headers.accept) logged.accept = req.headers.accept;
        this.log.push(logged);
        if (this.log.length > this.budget) {
          this.overBudget = true;
          return json(res, 503, { error: 'request budget exceeded' });
        }
        handler.call(this, req, res);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      this.servers.push(server);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (name === 'hub') this.hubUrl = url;
      else this.cdnUrl = url;
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  reset(): void {
    this.faults.drop.clear();
    this.faults.corrupt.clear();
    this.faults.ignoreRange = false;
    this.log = [];
    this.overBudget = false;
  }

  /** Requests for file bodies (resolve and CDN), without the 1-byte size probes. */
  bodyRequests(): Logged[] {
    return this.log.filter(
      (l) =>
        (l.url.includes('/resolve/') || l.url.startsWith('/lfs/')) &&
        l.range !== 'bytes=0-0' &&
        l.method === 'GET',
    );
  }

  private hub(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.hubUrl);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const api = parts[0] === 'api' && parts[1] === 'models';
    const [owner, name] = api ? parts.slice(2, 4) : parts.slice(0, 2);
    const repoId = `${owner}/${name}`;
    const repo = this.repos[repoId];
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    if (!repo) {
      return json(
        res,
        auth ? 404 : 401,
        { error: 'Repository not found' },
        { 'X-Error-Code': 'RepoNotFound' },
      );
    }
    const route = api ? parts[4] : parts[2];
    const rev = api ? parts[5] : parts[3];
    const commit = rev && this.commits[rev] ? rev : repo.refs[rev ?? ''];
    if (!commit) {
      return json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    }
    const files = this.commits[commit]!;
    if (api && route === 'revision') return this.modelInfo(res, repoId, repo, commit);
    if (api && route === 'tree') return this.tree(res, url, repoId, repo, files);
    if (api && route === 'paths-info') return this.pathsInfo(req, res, repo, files, commit);
    if (api && route === 'xet-read-token') {
      return json(res, 200, {
        accessToken: XET_TOKEN,
        exp: Math.floor(Date.now() / 1000) + 3600,
        casUrl: this.cdnUrl,
      });
    }
    if (!api && route === 'resolve') {
      const path = parts.slice(4).join('/');
      const data = files[path];
      if (!data) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      if (repo.gatedFor && !(auth && repo.gatedFor.includes(auth))) {
        const status = auth ? 403 : 401;
        const error = auth
          ? `Access to model ${repoId} is restricted and you are not in the authorized list. Visit ${this.hubUrl}/${repoId} to ask for access.`
          : `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
        return json(res, status, { error }, { 'X-Error-Code': 'GatedRepo' });
      }
      return this.resolve(req, res, repo, repoId, commit, path, data);
    }
    json(res, 404, { error: 'no route' });
  }

  private modelInfo(res: ServerResponse, id: string, repo: HubRepo, commit: string): void {
    json(res, 200, {
      _id: sha1(Buffer.from(id)).slice(0, 24),
      id,
      sha: commit,
      private: false,
      gated: repo.gatedFor ? 'manual' : false,
      downloads: 0,
      likes: 0,
      lastModified: '2024-01-01T00:00:00.000Z',
      pipeline_tag: 'text-generation',
    });
  }

  private entry(repo: HubRepo, path: string, data: Buffer) {
    return {
      type: 'file',
      path,
      size: data.length,
      oid: gitOid(data),
      ...(isLfs(path) ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}),
      ...(isLfs(path) && repo.xet ? { xetHash: this.xetHashOf(data) } : {}),
    };
  }

  private tree(
    res: ServerResponse,
    url: URL,
    id: string,
    repo: HubRepo,
    files: Record<string, Buffer>,
  ): void {
    const all = Object.entries(files).map(([p, d]) => this.entry(repo, p, d));
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const page = all.slice(start, start + this.pageSize);
    const headers: Record<string, string> = {};
    if (start + this.pageSize < all.length) {
      const next = new URL(url.href);
      next.searchParams.set('cursor', String(start + this.pageSize));
      headers['Link'] = `<${next.href}>; rel="next"`;
    }
    void id;
    json(res, 200, page, headers);
  }

  private pathsInfo(
    req: IncomingMessage,
    res: ServerResponse,
    repo: HubRepo,
    files: Record<string, Buffer>,
    commit: string,
  ): void {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const { paths } = JSON.parse(body) as { paths: string[] };
      json(
        res,
        200,
        paths
          .filter((p) => files[p])
          .map((p) => ({
            ...this.entry(repo, p, files[p]!),
            lastCommit: { id: commit, title: 'commit', date: '2024-01-01T00:00:00.000Z' },
            securityFileStatus: { status: 'safe' },
          })),
      );
    });
  }

  private xetHashOf(data: Buffer): string {
    return sha256(Buffer.concat([Buffer.from('xet'), data]));
  }

  private resolve(
    req: IncomingMessage,
    res: ServerResponse,
    repo: HubRepo,
    repoId: string,
    commit: string,
    path: string,
    data: Buffer,
  ) {
    const common = {
      'X-Repo-Commit': commit,
      'Access-Control-Expose-Headers': 'X-Repo-Commit,X-Linked-Etag',
    };
    if (!isLfs(path)) return this.sendBytes(req, res, path, data, { ...common, ETag: `"${gitOid(data)}"` });
    const lfs = {
      ...common,
      ETag: `"${sha256(data)}"`,
      'X-Linked-Etag': `"${sha256(data)}"`,
      'X-Linked-Size': String(data.length),
    };
    if (repo.xet && req.headers.accept?.includes('application/vnd.xet-fileinfo+json')) {
      const hash = this.xetHashOf(data);
      res.writeHead(200, {
        ...lfs,
        'Content-Type': 'application/vnd.xet-fileinfo+json',
        'X-Xet-Hash': hash,
        Link:
          `<${this.hubUrl}/api/models/${repoId}/xet-read-token/${commit}>; rel="xet-auth", ` +
          `<${this.cdnUrl}/v1/reconstructions/${hash}>; rel="xet-reconstruction-info"`,
      });
      return void res.end(JSON.stringify({ hash, size: data.length, etag: sha256(data) }));
    }
    res.writeHead(302, {
      ...lfs,
      Location: `${this.cdnUrl}/lfs/${sha256(data)}?X-Amz-Signature=local`,
      'Content-Length': '0',
    });
    res.end();
  }

  private cdn(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.cdnUrl);
    const [kind, key] = url.pathname.split('/').filter(Boolean);
    if (kind === 'lfs' && key && this.lfsBlobs.has(key)) {
      const { path, data } = this.lfsBlobs.get(key)!;
      return this.sendBytes(req, res, path, data, { ETag: `"${key}"` });
    }
    if (kind === 'v2' && req.headers.authorization !== `Bearer ${XET_TOKEN}`) {
      return json(res, 401, { error: 'bad CAS token' });
    }
    if (kind === 'v2') {
      const hash = url.pathname.split('/').pop()!;
      const entry = [...this.lfsBlobs.values()].find((b) => this.xetHashOf(b.data) === hash);
      if (!entry) return json(res, 404, { error: 'no such file' });
      return json(res, 200, this.reconstruction(entry.data, req.headers.range));
    }
    if (kind === 'xorbs' && key && this.xorbs.has(key)) {
      const x = this.xorbs.get(key)!;
      return this.sendBytes(req, res, `xorb:${key}`, x.bytes, {});
    }
    json(res, 404, { error: 'not found' });
  }

  /** Xet's reconstruction answer for bytes [s, e] of a file: terms (one per xorb touched) and where to fetch them. */
  private reconstruction(data: Buffer, range: string | undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    const s = m ? Number(m[1]) : 0;
    const e = m ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    const first = Math.floor(s / XET_CHUNK);
    const last = Math.floor(e / XET_CHUNK);
    const terms = [];
    const xorbs: Record<string, unknown[]> = {};
    for (const x of this.xetFiles.get(sha256(data)) ?? []) {
      const n = x.offsets.length - 1;
      const lo = Math.max(first, x.firstChunk) - x.firstChunk;
      const hi = Math.min(last + 1, x.firstChunk + n) - x.firstChunk;
      if (lo >= hi) continue;
      const unpacked = x.offsets[hi]! - x.offsets[lo]! - 8 * (hi - lo);
      terms.push({ hash: x.hash, unpacked_length: unpacked, range: { start: lo, end: hi } });
      xorbs[x.hash] = [
        {
          url: `${this.cdnUrl}/xorbs/${x.hash}?X-Xet-Signed-Range=local`,
          ranges: [
            { chunks: { start: lo, end: hi }, bytes: { start: x.offsets[lo]!, end: x.offsets[hi]! - 1 } },
          ],
        },
      ];
    }
    return { terms, xorbs, offset_into_first_range: s - first * XET_CHUNK };
  }

  /** A body with Range support and the configured faults. */
  private sendBytes(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    data: Buffer,
    headers: Record<string, string>,
  ) {
    let body = data;
    let status = 200;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const probe = m?.[1] === '0' && m[2] === '0';
    const out: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes' };
    if (m && (probe || !this.faults.ignoreRange)) {
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
      if (start >= data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
        return void res.end();
      }
      body = data.subarray(start, end + 1);
      status = 206;
      out['Content-Range'] = `bytes ${start}-${end}/${data.length}`;
    }
    const corrupt = this.faults.corrupt.get(path) ?? 0;
    if (!probe && corrupt > 0) {
      this.faults.corrupt.set(path, corrupt - 1);
      body = Buffer.from(body);
      body[body.length - 1]! ^= 0xff;
    }
    res.writeHead(status, {
      ...out,
      'Content-Length': String(body.length),
      'Content-Type': 'application/octet-stream',
    });
    if (req.method === 'HEAD') return void res.end();
    const drop = this.faults.drop.get(path);
    if (!probe && drop && drop.count > 0 && body.length > drop.after) {
      drop.count--;
      res.write(body.subarray(0, drop.after), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
