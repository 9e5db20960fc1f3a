import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Root of spacetime-lens's cache (datasets, derived data; Hub models go to the Hugging Face cache, src/model/hub-cache.ts).
 * `SPACETIME_LENS_CACHE` overrides it; otherwise `$XDG_CACHE_HOME/spacetime-lens` or `~/.cache/spacetime-lens`.
 */
export function cacheDir(...parts: string[]): string {
  const root =
    process.env['SPACETIME_LENS_CACHE'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'spacetime-lens');
  return join(resolve(root), ...parts);
}

/**
 * How a model is named in titles, labels and output folders: a local checkpoint directory by its folder name
 * (manifests keep the absolute path), a Hub id (`org/name[@rev]`) or `static:...` as given.
 */
export function modelDisplayName(id: string): string {
  const trimmed = id.replace(/[\\/]+$/, '');
  const isPath =
    isAbsolute(trimmed) || /^(\.{1,2}([\\/]|$)|~)/.test(trimmed) || trimmed.split('/').length > 2;
  return isPath ? basename(trimmed) || trimmed : trimmed;
}

/** The package's root directory (where package.json lives), found from this file's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** The `shared/` folder beside a checkout (test data), or undefined where there is none. */
export function sharedDir(): string | undefined {
  const candidates = [process.env['SPACETIME_LENS_SHARED'], join(packageRoot(), '..', 'shared')];
  return candidates.find((c): c is string => !!c && existsSync(c));
}
