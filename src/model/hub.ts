// Model sources: a local checkpoint directory (zero network), or a Hugging Face Hub id downloaded into a cache.
//
// The cache uses the Hub's own layout (the one huggingface_hub writes), so a Python cache can be shared:
//   <cache>/models--<owner>--<name>/refs/<revision>          the commit a branch/tag resolved to
//   <cache>/models--<owner>--<name>/blobs/<etag>             file contents (etag = sha256 for LFS files)
//   <cache>/models--<owner>--<name>/snapshots/<commit>/<f>   symlinks to the blobs (copies where links fail)
// Listing, revision resolution and transfers go through @huggingface/hub; downloads go to blobs/<etag>.incomplete,
// resume from its length with an HTTP Range request after a dropped connection, are checked (size, and sha256 for
// LFS files) and only then renamed into place, so an interrupted run never leaves a corrupt file behind.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { ListFileEntry } from '@huggingface/hub';
import { downloadFile, fileDownloadInfo, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { UserError } from '../util/errors.js';
import { processAlive, writeFileAtomic } from '../util/fsx.js';
import { cacheDir as defaultCacheRoot } from '../util/paths.js';
import { INDEX_FILE, SINGLE_FILE } from './checkpoint.js';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** Non-weight files fetched when the repository has them. */
export const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];

export interface DownloadProgress {
  file: string;
  /** Bytes of this file on disk so far (including a resumed part). */
  bytes: number;
  total: number;
}

export interface ResolveOptions {
  /** Branch, tag or commit; also accepted as `id@revision`. Default "main". */
  revision?: string;
  /** Cache root. Default: cacheDir('models'), i.e. ~/.cache/spacetime-lens/models. */
  cacheDir?: string;
  /** Use only the cache (also HF_HUB_OFFLINE=1 / SPACETIME_LENS_OFFLINE=1). */
  offline?: boolean;
  /** Default: $HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  /** Default: $HF_TOKEN or $HUGGING_FACE_HUB_TOKEN. */
  token?: string;
  /** Attempts per file after a network failure (default 5); each resumes where the last stopped. */
  retries?: number;
  /** First back-off delay in ms, doubled per attempt (default 500). */
  retryDelayMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Called when the Hub cannot be reached and a cached snapshot is used instead (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** Custom fetch (proxies, tests). */
  fetch?: typeof fetch;
}

export interface HubRef {
  repo: string;
  revision: string;
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;

function envFlag(name: string): boolean {
  const v = process.env[name];
  return !!v && !['0', 'false', 'no', 'off', ''].includes(v.toLowerCase());
}

/** Splits `owner/name@revision`; undefined when the string cannot be a Hub id. */
export function parseHubId(spec: string): HubRef | undefined {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? 'main' : spec.slice(at + 1);
  if (!HUB_ID.test(repo) || repo.includes('..') || !revision || /\s|\.\./.test(revision)) return undefined;
  return { repo, revision };
}

function looksLikePath(spec: string): boolean {
  return /^(\.{1,2}([\\/]|$)|[\\/]|~)/.test(spec) || spec.includes('\\') || spec.split('/').length > 2;
}

/**
 * The identity recorded for a model source: the absolute path of a local checkpoint directory (so that manifests do
 * not depend on the working directory), anything else (a Hub id, `static:...`) unchanged.
 */
export function modelIdentity(source: string): string {
  if (source.startsWith('static:')) return source;
  const local = source.startsWith('~') ? join(homedir(), source.slice(1)) : source;
  return existsSync(local) && statSync(local).isDirectory() ? resolve(local) : source;
}

/** Directory name of a repository in the cache (huggingface_hub's convention). */
export function repoFolderName(repo: string): string {
  return `models--${repo.replaceAll('/', '--')}`;
}

/**
 * A local directory as is (no network), or the cached snapshot of a Hub id, downloading what is missing.
 * Returns the directory that holds config.json, the tokenizer files and the safetensors weights.
 */
export async function resolveModelSource(idOrDir: string, o: ResolveOptions = {}): Promise<string> {
  const local = idOrDir.startsWith('~') ? join(homedir(), idOrDir.slice(1)) : idOrDir;
  if (existsSync(local)) {
    if (!statSync(local).isDirectory())
      throw new UserError(`${idOrDir} is a file; give the model's directory`);
    return resolve(local);
  }
  const ref = looksLikePath(idOrDir) ? undefined : parseHubId(idOrDir);
  if (!ref)
    throw new UserError(`no model directory ${idOrDir}, and it is not a Hub id like EleutherAI/pythia-160m`);
  if (o.revision && idOrDir.includes('@') && o.revision !== ref.revision) {
    throw new UserError(`two revisions given for ${ref.repo}: @${ref.revision} and --revision ${o.revision}`);
  }
  const revision = o.revision ?? ref.revision;
  const root = resolve(o.cacheDir ?? defaultCacheRoot('models'));
  const offline = o.offline ?? (envFlag('HF_HUB_OFFLINE') || envFlag('SPACETIME_LENS_OFFLINE'));

  if (offline) {
    for (const cache of [root, huggingFaceCache()]) {
      const dir = cachedSnapshot(cache, ref.repo, revision);
      if (dir) return dir;
    }
    throw new UserError(
      `offline: ${ref.repo}@${revision} is not in the cache ${root} (nor in ${huggingFaceCache()}); ` +
        'run once online, or pass a local directory',
    );
  }
  if (COMMIT.test(revision)) {
    const dir = cachedSnapshot(root, ref.repo, revision);
    if (dir) return dir; // a pinned commit that is complete needs no network
  }
  try {
    return await download(ref.repo, revision, root, o);
  } catch (err) {
    // Like transformers: when the Hub cannot be reached, a complete cached snapshot of the revision still serves.
    const cached = err instanceof UnreachableError ? cachedSnapshot(root, ref.repo, revision) : undefined;
    if (!cached) throw err;
    (o.onWarning ?? ((m: string) => process.emitWarning(m)))(
      `${(err as Error).message.split(';')[0]}; using the cached snapshot ${cached}`,
    );
    return cached;
  }
}

/** huggingface_hub's cache, for offline reuse of models fetched with Python. */
function huggingFaceCache(): string {
  return (
    process.env['HF_HUB_CACHE'] ??
    join(
      process.env['HF_HOME'] ??
        join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface'),
      'hub',
    )
  );
}

/** The snapshot directory when it holds a complete checkpoint, else undefined. */
function cachedSnapshot(cache: string, repo: string, revision: string): string | undefined {
  const base = join(cache, repoFolderName(repo));
  let commit = revision;
  if (!COMMIT.test(revision)) {
    const refPath = join(base, 'refs', revision);
    if (!existsSync(refPath)) return undefined;
    commit = readFileSyncTrim(refPath);
  }
  const dir = join(base, 'snapshots', commit);
  return isComplete(dir) ? dir : undefined;
}

function readFileSyncTrim(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** config.json plus either model.safetensors or the index and every shard it names. */
function isComplete(dir: string): boolean {
  if (!existsSync(join(dir, 'config.json'))) return false;
  if (existsSync(join(dir, SINGLE_FILE))) return true;
  const index = join(dir, INDEX_FILE);
  if (!existsSync(index)) return false;
  try {
    return shardNames(readFileSync(index, 'utf8')).every((f) => existsSync(join(dir, f)));
  } catch {
    return false;
  }
}

function shardNames(indexText: string): string[] {
  const index = JSON.parse(indexText) as { weight_map?: Record<string, string> };
  if (!index.weight_map || typeof index.weight_map !== 'object')
    throw new UserError(`${INDEX_FILE} has no weight_map`);
  return [...new Set(Object.values(index.weight_map))];
}

/** The Hub could not be reached at all (as opposed to answering with an error). */
class UnreachableError extends UserError {}

function hubError(err: unknown, repo: string, revision: string, hubUrl: string): Error {
  if (err instanceof UserError) return err;
  if (err instanceof HubApiError) {
    if (err.statusCode === 401 || err.statusCode === 403) {
      return new UserError(
        `access to ${repo} was refused (${err.statusCode}): it may be gated or private; accept its licence on the ` +
          'Hub and set HF_TOKEN',
      );
    }
    if (err.statusCode === 404) return new UserError(`${repo}@${revision} was not found on ${hubUrl}`);
    return new UserError(`the Hub answered ${err.statusCode} for ${repo}@${revision}: ${err.message}`);
  }
  const e = err as Error;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code || e.message === 'fetch failed') {
    return new UnreachableError(
      `cannot reach ${hubUrl} for ${repo}@${revision} (${cause?.code ?? cause?.message ?? e.message}); ` +
        'use a local directory, or --offline with a cached model',
    );
  }
  if (/access token/i.test(e.message)) return new UserError(`${e.message} (check HF_TOKEN)`);
  return e;
}

async function download(repo: string, revision: string, root: string, o: ResolveOptions): Promise<string> {
  const hubUrl = (o.hubUrl ?? process.env['HF_ENDPOINT'] ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const accessToken = o.token ?? process.env['HF_TOKEN'] ?? process.env['HUGGING_FACE_HUB_TOKEN'];
  const common = { hubUrl, fetch: o.fetch, ...(accessToken ? { accessToken } : {}) };
  const base = join(root, repoFolderName(repo));

  // Pin everything to one commit: the revision's sha, then list and fetch at that sha.
  let commit: string;
  let listing: ListFileEntry[];
  try {
    const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...common });
    commit = String((info as { sha?: string }).sha ?? '');
    if (!COMMIT.test(commit)) throw new UserError(`the Hub gave no commit sha for ${repo}@${revision}`);
    listing = [];
    for await (const entry of listFiles({
      repo: { type: 'model', name: repo },
      revision: commit,
      ...common,
    })) {
      if (entry.type === 'file') listing.push(entry);
    }
  } catch (err) {
    throw hubError(err, repo, revision, hubUrl);
  }
  const snapshot = join(base, 'snapshots', commit);
  const byPath = new Map(listing.map((e) => [e.path, e]));
  const fetchFile = (path: string) =>
    fetchIntoSnapshot(repo, commit, byPath.get(path) as ListFileEntry, base, o, common);

  const wanted = MODEL_FILES.filter((f) => byPath.has(f));
  if (!byPath.has('config.json'))
    throw new UserError(`${repo}@${revision} has no config.json; is it a model repository?`);
  if (byPath.has(SINGLE_FILE)) {
    wanted.push(SINGLE_FILE);
  } else if (byPath.has(INDEX_FILE)) {
    await fetchFile(INDEX_FILE).catch((err) => Promise.reject(hubError(err, repo, revision, hubUrl)));
    const shards = shardNames(await readFile(join(snapshot, INDEX_FILE), 'utf8'));
    const absent = shards.filter((s) => !byPath.has(s));
    if (absent.length)
      throw new UserError(`${repo}@${revision}: ${INDEX_FILE} names missing shards ${absent.join(', ')}`);
    wanted.push(...shards);
  } else {
    const weights = listing.map((e) => e.path).filter((p) => /\.(bin|pt|pth|gguf|h5|msgpack)$/.test(p));
    throw new UserError(
      `${repo}@${revision} has no safetensors weights` +
        (weights.length
          ? ` (it has ${weights.slice(0, 4).join(', ')}; only safetensors checkpoints load)`
          : ''),
    );
  }
  for (const f of wanted) {
    try {
      await fetchFile(f);
    } catch (err) {
      throw hubError(err, repo, revision, hubUrl);
    }
  }
  if (revision !== commit) await writeFileAtomic(join(base, 'refs', revision), commit);
  return snapshot;
}

interface Common {
  hubUrl: string;
  fetch?: typeof fetch;
  accessToken?: string;
}

/** Makes snapshots/<commit>/<path> point at a verified blob, downloading (or resuming) it when needed. */
async function fetchIntoSnapshot(
  repo: string,
  commit: string,
  entry: ListFileEntry,
  base: string,
  o: ResolveOptions,
  common: Common,
): Promise<void> {
  const pointer = join(base, 'snapshots', commit, entry.path);
  const size = entry.lfs?.size ?? entry.size;
  if (existsSync(pointer) && statSync(pointer).size === size) return;
  const sha256 = entry.lfs?.oid;
  const etag = sha256 ?? entry.oid ?? `${commit}-${entry.path.replaceAll('/', '--')}`;
  const blob = join(base, 'blobs', etag);
  const have = () => existsSync(blob) && statSync(blob).size === size;
  if (!have()) {
    await withLock(blob, async () => {
      if (!have()) await downloadBlob(repo, commit, entry.path, blob, size, sha256, o, common);
    });
  }
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer); // filesystems without symlinks
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One writer per blob, across processes and within one: `<blob>.lock` holds the writer's pid. A lock whose process
// is gone is taken over; a live one is waited for (it is downloading the same bytes).
const heldHere = new Set<string>();

async function withLock(blobPath: string, fn: () => Promise<void>): Promise<void> {
  const lock = `${blobPath}.lock`;
  await mkdir(dirname(blobPath), { recursive: true });
  for (;;) {
    if (!heldHere.has(lock)) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        heldHere.add(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number.parseInt(readFileSyncTrim(lock), 10);
        const justCreated = existsSync(lock) && Date.now() - statSync(lock).mtimeMs < 5000;
        const stale =
          pid > 0 ? (pid === process.pid ? !heldHere.has(lock) : !processAlive(pid)) : !justCreated;
        if (stale) {
          await rm(lock, { force: true }); // stale: its writer died
          continue;
        }
      }
    }
    await sleep(200);
  }
  try {
    await fn();
  } finally {
    heldHere.delete(lock);
    await rm(lock, { force: true });
  }
}

async function downloadBlob(
  repo: string,
  commit: string,
  path: string,
  blobPath: string,
  size: number,
  sha256: string | undefined,
  o: ResolveOptions,
  common: Common,
): Promise<void> {
  const partial = `${blobPath}.incomplete`;
  await mkdir(dirname(blobPath), { recursive: true });
  const retries = o.retries ?? 5;
  let delay = o.retryDelayMs ?? 500;
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
    let have = existsSync(partial) ? statSync(partial).size : 0;
    if (have > size) {
      await rm(partial, { force: true });
      have = 0;
    }
    try {
      if (have < size) await appendRange(repo, commit, path, partial, have, size, o, common);
      if (statSync(partial).size !== size)
        throw new Error(`short download: ${statSync(partial).size} of ${size} bytes`);
      if (sha256 && (await sha256Of(partial)) !== sha256) {
        await rm(partial, { force: true }); // corrupt: start over
        throw new Error(`sha256 of ${path} does not match the Hub's ${sha256}`);
      }
      await rename(partial, blobPath);
      return;
    } catch (err) {
      if (err instanceof UserError || (err instanceof HubApiError && err.statusCode < 500)) throw err;
      lastError = err;
    }
  }
  const msg = lastError instanceof Error ? lastError.message : String(lastError);
  throw new UserError(
    `downloading ${path} of ${repo} failed after ${retries + 1} attempts (${msg}); ` +
      `run again to resume from ${existsSync(partial) ? statSync(partial).size : 0} bytes`,
  );
}

/** Streams bytes [from, size) of the file onto the end of `partial`, refusing more bytes than asked for. */
async function appendRange(
  repo: string,
  commit: string,
  path: string,
  partial: string,
  from: number,
  size: number,
  o: ResolveOptions,
  common: Common,
): Promise<void> {
  const info = await fileDownloadInfo({
    repo: { type: 'model', name: repo },
    path,
    revision: commit,
    ...common,
  });
  if (!info) throw new UserError(`${repo}: ${path} is listed but cannot be downloaded`);
  if (info.size !== size) throw new Error(`${path}: the Hub reports ${info.size} bytes, the listing ${size}`);
  const blob = await downloadFile({
    repo: { type: 'model', name: repo },
    path,
    revision: commit,
    downloadInfo: info,
    ...common,
  });
  if (!blob) throw new UserError(`${repo}: ${path} is listed but cannot be downloaded`);
  let written = from;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > size)
        done(new Error(`the server sent more than ${size} bytes for ${path} (ignored the Range?)`));
      else {
        o.onProgress?.({ file: path, bytes: written, total: size });
        done(null, chunk);
      }
    },
  });
  const body = Readable.fromWeb(
    (from > 0 ? blob.slice(from) : blob).stream() as unknown as NodeReadableStream,
  );
  try {
    await pipeline(body, guard, createWriteStream(partial, { flags: 'a' }));
  } catch (err) {
    if (written > size) await rm(partial, { force: true });
    throw err;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
