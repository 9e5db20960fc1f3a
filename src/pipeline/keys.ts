/**
 * Reuse checks of the pipeline stage: a cached store, probe or experiment result is reused only when the cache
 * key it recorded (src/extract/cache-key.ts) is the one the current settings give.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { keyDifferences, manifestKey, mismatchMessage, type StoreKey } from '../extract/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { canonicalJson } from '../util/hash.js';

/** File beside probe and experiment results that records their cache key. */
export const KEY_FILE = 'cache-key.json';

/**
 * Throws unless the store in `dir` has exactly `wanted` as its key. `explicitFlag` names the flag that chose the
 * folder (the message then says to pick another one); a store written before keys were recorded never matches.
 */
export async function checkStoreKey(dir: string, wanted: StoreKey, explicitFlag?: string): Promise<void> {
  const remedy = explicitFlag
    ? `choose another ${explicitFlag} (or leave it out for a folder per setting) or delete it`
    : 'delete it to recompute';
  const stored = manifestKey((await openStore(dir)).manifest.extra);
  if (!stored) {
    throw new UserError(
      `${dir} was written before stores recorded their settings (no cache key in its manifest), so it cannot ` +
        `be trusted to match; ${remedy}`,
    );
  }
  const diffs = keyDifferences(
    stored as unknown as Record<string, unknown>,
    wanted as unknown as Record<string, unknown>,
  );
  if (diffs.length) throw new UserError(mismatchMessage(dir, diffs, remedy));
}

/** True when `dir` records exactly `key` (results written without a key never match). */
export async function keyMatches(dir: string, key: unknown): Promise<boolean> {
  try {
    const stored = JSON.parse(await readFile(join(dir, KEY_FILE), 'utf8')) as unknown;
    return canonicalJson(stored) === canonicalJson(key);
  } catch {
    return false;
  }
}

/** Records `key` for the results in `dir` (after they are written, so a crash leaves no key and they are redone). */
export async function writeKey(dir: string, key: unknown): Promise<void> {
  await writeFileAtomic(join(dir, KEY_FILE), `${JSON.stringify(key, null, 2)}\n`);
}

/** Forgets the key of `dir` before its results are rewritten, so a crash mid-way never leaves old key + new results. */
export async function clearKey(dir: string): Promise<void> {
  await rm(join(dir, KEY_FILE), { force: true });
}
