// Model sources: a local checkpoint directory (zero network), or a Hub id resolved in the Hugging Face cache
// (hub-cache.ts: huggingface_hub's own layout and location, shared with Python) and downloaded where incomplete.
// A revision that resolves locally to a complete snapshot is used with no network call; otherwise the revision is
// resolved to one commit, listed and fetched at that commit (hub-download.ts: resume, checksums, locks).
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ListFileEntry } from '@huggingface/hub';
import { HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { UserError } from '../util/errors.js';
import { INDEX_FILE, SINGLE_FILE } from './checkpoint.js';
import { findHubToken, type HubToken } from './hub-auth.js';
import { COMMIT, hubCacheDir, MODEL_FILES, RepoCache, shardNames } from './hub-cache.js';
import { type DownloadProgress, ensureFile, etagOf, type Transfer } from './hub-download.js';

export { hubCacheDir, MODEL_FILES, repoFolderName } from './hub-cache.js';
export type { DownloadProgress } from './hub-download.js';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** Where a Hub model comes from: the options every model-loading command shares (`--revision`, `--offline`, `--cache-dir`). */
export interface SourceOptions {
  /** Branch, tag or commit; also accepted as `id@revision`. Default "main". */
  revision?: string;
  /** Use only the cache (also HF_HUB_OFFLINE=1 / SPACETIME_LENS_OFFLINE=1). */
  offline?: boolean;
  /** Cache root. Default: huggingface_hub's ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Ask the Hub where a branch or tag points even when the cache already resolves it (default false). */
  refresh?: boolean;
}

export interface ResolveOptions extends SourceOptions {
  /** Default: $HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  /** Default: findHubToken() ($HF_TOKEN, $HF_TOKEN_PATH, $HF_HOME/token); '' for none. */
  token?: string;
  /** Attempts per file after a network failure (default 5); each resumes where the last stopped. */
  retries?: number;
  /** First back-off delay in ms, doubled per attempt (default 500). */
  retryDelayMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** One-line notes: a cached snapshot used because the Hub is unreachable, a bad checksum, a wait for a lock. */
  onWarning?: (message: string) => void;
  /** Custom fetch (proxies, tests). */
  fetch?: typeof fetch;
}

/** The source options set in `o` (for passing --revision/--offline/--cache-dir along). */
export function sourceOptions(o: SourceOptions): SourceOptions {
  return {
    ...(o.revision ? { revision: o.revision } : {}),
    ...(o.offline ? { offline: true } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.refresh ? { refresh: true } : {}),
  };
}

export interface HubRef {
  repo: string;
  revision: string;
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

function envFlag(name: string): boolean {
  const v = process.env[name];
  return !!v && !['0', 'false', 'no', 'off', ''].includes(v.toLowerCase());
}

/** HF_HUB_OFFLINE / SPACETIME_LENS_OFFLINE. */
export function offlineFromEnv(): boolean {
  return envFlag('HF_HUB_OFFLINE') || envFlag('SPACETIME_LENS_OFFLINE');
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
  const cache = new RepoCache(resolve(o.cacheDir ?? hubCacheDir()), ref.repo);
  const warn = o.onWarning ?? ((m: string) => process.emitWarning(m));

  if (o.offline ?? offlineFromEnv()) {
    const dir = cache.completeSnapshot(revision, false);
    if (dir) return dir;
    throw new UserError(
      `offline: ${ref.repo}@${revision} is not complete in the cache ${cache.root}; ` +
        'run once online, point --cache-dir (or HF_HUB_CACHE) at the cache that has it, or pass a local directory',
    );
  }
  // A revision the cache resolves to a complete snapshot needs no network (a branch stays where it was fetched
  // until `refresh`); a partial one (Python fetched only some files) is completed below, reusing its blobs.
  if (!o.refresh) {
    const dir = cache.completeSnapshot(revision, true);
    if (dir) return dir;
  }
  try {
    return await download(cache, revision, o, warn);
  } catch (err) {
    // Like transformers: when the Hub cannot be reached, a complete cached snapshot of the revision still serves.
    const cached = err instanceof UnreachableError ? cache.completeSnapshot(revision, false) : undefined;
    if (!cached) throw err;
    warn(`${(err as Error).message.split(';')[0]}; using the cached snapshot ${cached}`);
    return cached;
  }
}

/** The Hub could not be reached at all (as opposed to answering with an error). */
class UnreachableError extends UserError {}

interface Context {
  repo: string;
  revision: string;
  hubUrl: string;
  token: HubToken | undefined;
}

function loginHint(hubUrl: string): string {
  const cli = hubUrl === DEFAULT_HUB_URL ? 'hf auth login' : `HF_ENDPOINT=${hubUrl} hf auth login`;
  return `log in with \`${cli}\` (or set HF_TOKEN)`;
}

/** A one-line UserError for what the Hub answered (or that it did not answer). */
function hubError(err: unknown, c: Context, stage: 'repo' | 'file'): Error {
  if (err instanceof UserError) return err;
  if (err instanceof HubApiError) {
    const page = `${c.hubUrl}/${c.repo}`;
    const status = err.statusCode;
    if ((status === 401 || status === 403) && stage === 'file') {
      return new UserError(
        c.token
          ? `${c.repo} is gated and your token (from ${c.token.source}) has no access (${status}): accept its licence ` +
              `at ${page} with that account, or use a token that has access`
          : `${c.repo} is gated (${status}): accept its licence at ${page}, then ${loginHint(c.hubUrl)}`,
      );
    }
    if (status === 401 || status === 403) {
      return new UserError(
        c.token
          ? `${c.repo} was refused (${status}) with your token (from ${c.token.source}): is the id right, and does ` +
              `the token's account have access to ${page}?`
          : `${c.repo} was not found or is private (${status}): check the id, or ${loginHint(c.hubUrl)}`,
      );
    }
    if (status === 404) return new UserError(`${c.repo}@${c.revision} was not found on ${c.hubUrl}`);
    return new UserError(
      `the Hub answered ${status} for ${c.repo}@${c.revision}: ${err.message.split('. URL:')[0]}`,
    );
  }
  const e = err as Error;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code || e.message === 'fetch failed') {
    return new UnreachableError(
      `cannot reach ${c.hubUrl} for ${c.repo}@${c.revision} (${cause?.code ?? cause?.message ?? e.message}); ` +
        'use a local directory, or --offline with a cached model',
    );
  }
  return e;
}

/** What a Hub checkpoint needs at one commit, and how to fetch into the cache. */
export interface SnapshotPlan {
  repo: string;
  commit: string;
  /** The files a checkpoint needs (config, tokenizer files, weights), as the tree listing gives them. */
  files: ListFileEntry[];
  /** Bytes of those files whose blob is not in the cache yet. */
  missingBytes: number;
  snapshot: string;
}

/**
 * Resolves the revision to a commit and lists it: which files a checkpoint needs and how many bytes are not cached
 * yet. Only a sharded checkpoint's index (small) is fetched, into the cache, to know its shards.
 */
export async function planSnapshot(
  repo: string,
  o: ResolveOptions & { revision?: string } = {},
): Promise<SnapshotPlan> {
  const cache = new RepoCache(resolve(o.cacheDir ?? hubCacheDir()), repo);
  const warn = o.onWarning ?? ((m: string) => process.emitWarning(m));
  return (await listSnapshot(cache, o.revision ?? 'main', o, warn)).plan;
}

async function listSnapshot(
  cache: RepoCache,
  revision: string,
  o: ResolveOptions,
  warn: (m: string) => void,
) {
  const hubUrl = (o.hubUrl ?? process.env['HF_ENDPOINT'] ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const token =
    o.token === undefined
      ? findHubToken()
      : o.token
        ? { token: o.token, source: 'the token option' }
        : undefined;
  const c: Context = { repo: cache.repo, revision, hubUrl, token };
  const api = {
    hubUrl,
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(token ? { accessToken: token.token } : {}),
  };

  let commit: string;
  const byPath = new Map<string, ListFileEntry>();
  try {
    const info = await modelInfo({ name: cache.repo, revision, additionalFields: ['sha'], ...api });
    commit = String((info as { sha?: string }).sha ?? '');
    if (!COMMIT.test(commit)) throw new UserError(`the Hub gave no commit sha for ${cache.repo}@${revision}`);
    for await (const entry of listFiles({
      repo: { type: 'model', name: cache.repo },
      revision: commit,
      ...api,
    })) {
      if (entry.type === 'file') byPath.set(entry.path, entry);
    }
  } catch (err) {
    throw hubError(err, c, 'repo');
  }
  const transfer: Transfer = {
    ...api,
    retries: o.retries ?? 5,
    retryDelayMs: o.retryDelayMs ?? 500,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onWarning: warn,
  };
  const fetchFile = async (path: string) => {
    try {
      await ensureFile(cache, commit, byPath.get(path) as ListFileEntry, transfer);
    } catch (err) {
      throw hubError(err, c, 'file');
    }
  };

  if (!byPath.has('config.json'))
    throw new UserError(`${cache.repo}@${revision} has no config.json; is it a model repository?`);
  const wanted = MODEL_FILES.filter((f) => byPath.has(f));
  if (byPath.has(SINGLE_FILE)) {
    wanted.push(SINGLE_FILE);
  } else if (byPath.has(INDEX_FILE)) {
    await fetchFile(INDEX_FILE);
    const shards = shardNames(await readFile(join(cache.snapshot(commit), INDEX_FILE), 'utf8'));
    const absent = shards.filter((s) => !byPath.has(s));
    if (absent.length)
      throw new UserError(
        `${cache.repo}@${revision}: ${INDEX_FILE} names missing shards ${absent.join(', ')}`,
      );
    wanted.push(INDEX_FILE, ...shards);
  } else {
    const weights = [...byPath.keys()].filter((p) => /\.(bin|pt|pth|gguf|h5|msgpack)$/.test(p));
    throw new UserError(
      `${cache.repo}@${revision} has no safetensors weights` +
        (weights.length
          ? ` (it has ${weights.slice(0, 4).join(', ')}; only safetensors checkpoints load)`
          : ''),
    );
  }
  const files = wanted.map((f) => byPath.get(f)!);
  const missingBytes = files
    .filter((e) => !cache.hasBlob(etagOf(e), e.lfs?.size ?? e.size))
    .reduce((sum, e) => sum + (e.lfs?.size ?? e.size), 0);
  const plan: SnapshotPlan = {
    repo: cache.repo,
    commit,
    files,
    missingBytes,
    snapshot: cache.snapshot(commit),
  };
  return { plan, fetchFile, absent: MODEL_FILES.filter((f) => !byPath.has(f)) };
}

/** Resolves the revision to a commit, lists it, and brings the files a checkpoint needs into the snapshot. */
async function download(
  cache: RepoCache,
  revision: string,
  o: ResolveOptions,
  warn: (m: string) => void,
): Promise<string> {
  const { plan, fetchFile, absent } = await listSnapshot(cache, revision, o, warn);
  for (const e of plan.files) await fetchFile(e.path);
  for (const f of absent) await cache.markAbsent(plan.commit, f);
  await cache.writeRef(revision, plan.commit); // only once the snapshot is complete
  return plan.snapshot;
}
