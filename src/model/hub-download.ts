// One file of a snapshot into the Hugging Face cache: reuse the blob when the cache has it (from Python, another
// model, an earlier run), else download it to blobs/<etag>.incomplete, resume a partial one with an HTTP Range
// request, check it against the tree listing (sha256 for LFS files, the git blob hash for small ones) and only
// then rename it into place. HTTP goes through @huggingface/hub (fileDownloadInfo + downloadFile), which also
// reads Xet-stored files through its Xet client; our part is resumption, verification and the lock.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { ListFileEntry } from '@huggingface/hub';
import { downloadFile, fileDownloadInfo, HubApiError } from '@huggingface/hub';
import { UserError } from '../util/errors.js';
import { withLock } from '../util/lock.js';
import type { RepoCache } from './hub-cache.js';

export interface DownloadProgress {
  file: string;
  /** Bytes of this file on disk so far (including a resumed part). */
  bytes: number;
  total: number;
}

export interface Transfer {
  hubUrl: string;
  fetch?: typeof fetch;
  accessToken?: string;
  /** Attempts per file after a network failure or a bad checksum, each resuming where the last stopped. */
  retries: number;
  retryDelayMs: number;
  onProgress?: (p: DownloadProgress) => void;
  onWarning: (message: string) => void;
}

/** The blob name huggingface_hub uses: the LFS sha256 (its X-Linked-Etag), else the git blob oid (its ETag). */
export function etagOf(entry: ListFileEntry): string {
  const etag = entry.lfs?.oid ?? entry.oid;
  if (!etag) throw new UserError(`the Hub's listing gives no hash for ${entry.path}`);
  return etag;
}

/** git's object id of a file: sha1("blob <size>\0" + bytes), what the tree listing gives for non-LFS files. */
export async function gitBlobSha1(path: string): Promise<string> {
  const hash = createHash('sha1').update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Why the downloaded bytes are not the listed file, or undefined when they are. */
async function mismatch(path: string, entry: ListFileEntry): Promise<string | undefined> {
  if (entry.lfs) {
    const got = await sha256Of(path);
    return got === entry.lfs.oid ? undefined : `sha256 ${got} is not the listed ${entry.lfs.oid}`;
  }
  const got = await gitBlobSha1(path);
  return got === entry.oid ? undefined : `git blob hash ${got} is not the listed ${entry.oid}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes snapshots/<commit>/<path> point at a verified blob, downloading (or resuming) it when needed. */
export async function ensureFile(
  cache: RepoCache,
  commit: string,
  entry: ListFileEntry,
  t: Transfer,
): Promise<void> {
  const size = entry.lfs?.size ?? entry.size;
  const pointer = join(cache.snapshot(commit), entry.path);
  if (existsSync(pointer) && statSync(pointer).size === size) return;
  const etag = etagOf(entry);
  const blob = cache.blob(etag);
  const have = () => existsSync(blob) && statSync(blob).size === size;
  if (!have()) {
    await withLock(
      cache.lock(etag),
      async () => {
        if (!have()) await downloadBlob(cache, commit, entry, blob, t);
      },
      {
        purpose: `download of ${cache.repo}/${entry.path}`,
        pollMs: 200,
        onWait: (line) => t.onWarning(`${entry.path}: ${line}`),
      },
    );
  }
  await cache.link(commit, entry.path, etag);
}

async function downloadBlob(
  cache: RepoCache,
  commit: string,
  entry: ListFileEntry,
  blobPath: string,
  t: Transfer,
): Promise<void> {
  const size = entry.lfs?.size ?? entry.size;
  const partial = `${blobPath}.incomplete`;
  await mkdir(dirname(blobPath), { recursive: true });
  let delay = t.retryDelayMs;
  let lastError: unknown;
  for (let attempt = 0; attempt <= t.retries; attempt++) {
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
      if (have < size || !existsSync(partial))
        await appendRange(cache.repo, commit, entry.path, partial, have, size, t);
      if (statSync(partial).size !== size)
        throw new Error(`short download: ${statSync(partial).size} of ${size} bytes`);
      const bad = await mismatch(partial, entry);
      if (bad) {
        await rm(partial, { force: true });
        const line = `${cache.repo}/${entry.path}: the downloaded ${bad}; deleted it`;
        t.onWarning(attempt < t.retries ? `${line}, downloading again` : line);
        throw new Error(`the downloaded ${bad} (deleted)`);
      }
      await rename(partial, blobPath);
      return;
    } catch (err) {
      if (err instanceof UserError || (err instanceof HubApiError && err.statusCode < 500)) throw err;
      lastError = err;
    }
  }
  const msg = lastError instanceof Error ? lastError.message : String(lastError);
  const kept = existsSync(partial) ? statSync(partial).size : 0;
  throw new UserError(
    `downloading ${entry.path} of ${cache.repo} failed after ${t.retries + 1} attempts (${msg}); ` +
      (kept ? `run again to resume from ${kept} bytes` : 'run again to retry'),
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
  t: Transfer,
): Promise<void> {
  const common = {
    repo: { type: 'model' as const, name: repo },
    path,
    revision: commit,
    hubUrl: t.hubUrl,
    ...(t.fetch ? { fetch: t.fetch } : {}),
    ...(t.accessToken ? { accessToken: t.accessToken } : {}),
  };
  const info = await fileDownloadInfo(common);
  if (!info) throw new UserError(`${repo}: ${path} is listed but cannot be downloaded`);
  if (info.size !== size) throw new Error(`${path}: the Hub reports ${info.size} bytes, the listing ${size}`);
  const blob = await downloadFile({ ...common, downloadInfo: info });
  if (!blob) throw new UserError(`${repo}: ${path} is listed but cannot be downloaded`);
  let written = from;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > size)
        done(new Error(`the server sent more than ${size} bytes for ${path} (ignored the Range?)`));
      else {
        t.onProgress?.({ file: path, bytes: written, total: size });
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
