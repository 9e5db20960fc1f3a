// The Hugging Face cache, in exactly the layout huggingface_hub (and so transformers) reads and writes, so that one
// download serves Python and spacetime-lens:
//   <cache>/models--<owner>--<name>/refs/<revision>                 the commit a branch or tag resolved to
//   <cache>/models--<owner>--<name>/blobs/<etag>                    contents (sha256 for LFS files, git oid else)
//   <cache>/models--<owner>--<name>/snapshots/<commit>/<path>       relative symlinks to the blobs
//   <cache>/models--<owner>--<name>/.no_exist/<commit>/<path>       empty: the file does not exist at that commit
//   <cache>/.locks/models--<owner>--<name>/<etag>.lock              one writer per blob
// The cache root and folder names come from @huggingface/hub (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, as Python).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { UserError } from '../util/errors.js';
import { INDEX_FILE, SINGLE_FILE } from './checkpoint.js';

/** Non-weight files a model needs (those the repository has). */
export const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];

export const COMMIT = /^[0-9a-f]{40}$/;

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (huggingface_hub's constants). */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface');
}

/** The default model cache: huggingface_hub's ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
export function hubCacheDir(): string {
  return getHFHubCachePath();
}

/** Directory name of a model repository in the cache (`models--org--name`). */
export function repoFolderName(repo: string): string {
  return getRepoFolderName({ type: 'model', name: repo });
}

/** Paths of one repository in one cache root. */
export class RepoCache {
  readonly base: string;
  constructor(
    readonly root: string,
    readonly repo: string,
  ) {
    this.base = join(root, repoFolderName(repo));
  }

  snapshot(commit: string): string {
    return join(this.base, 'snapshots', commit);
  }

  blob(etag: string): string {
    return join(this.base, 'blobs', etag);
  }

  /** True when blobs/<etag> holds `size` bytes. */
  hasBlob(etag: string, size: number): boolean {
    try {
      return statSync(this.blob(etag)).size === size;
    } catch {
      return false;
    }
  }

  lock(etag: string): string {
    return join(this.root, '.locks', repoFolderName(this.repo), `${etag}.lock`);
  }

  noExist(commit: string, path: string): string {
    return join(this.base, '.no_exist', commit, path);
  }

  /** The commit `revision` names locally (a commit as is, a branch/tag through refs/), or undefined. */
  commitOf(revision: string): string | undefined {
    if (COMMIT.test(revision)) return revision;
    try {
      const commit = readFileSync(join(this.base, 'refs', revision), 'utf8').trim();
      return COMMIT.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = join(this.base, 'refs', revision);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, commit); // huggingface_hub writes refs in place, no trailing newline
  }

  /** Records that `path` does not exist at `commit`, as huggingface_hub does after an EntryNotFound. */
  async markAbsent(commit: string, path: string): Promise<void> {
    const file = this.noExist(commit, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, '');
  }

  /** Points snapshots/<commit>/<path> at the blob (a relative symlink; a copy where links are impossible). */
  async link(commit: string, path: string, etag: string): Promise<void> {
    const pointer = join(this.snapshot(commit), path);
    await mkdir(dirname(pointer), { recursive: true });
    await rm(pointer, { force: true });
    try {
      await symlink(relative(dirname(pointer), this.blob(etag)), pointer);
    } catch {
      await copyFile(this.blob(etag), pointer);
    }
  }

  /**
   * The snapshot of `revision` when it resolves locally and holds a loadable checkpoint: config.json and the
   * weights (model.safetensors, or the index and every shard it names); with `strict`, also every optional file of
   * MODEL_FILES either present or recorded in .no_exist (so nothing would be fetched). Else undefined.
   */
  completeSnapshot(revision: string, strict: boolean): string | undefined {
    const commit = this.commitOf(revision);
    if (!commit) return undefined;
    const dir = this.snapshot(commit);
    if (!hasWeights(dir)) return undefined;
    if (strict && !MODEL_FILES.every((f) => present(join(dir, f)) || existsSync(this.noExist(commit, f))))
      return undefined;
    return dir;
  }
}

/** A file or a symlink whose blob exists. */
function present(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function hasWeights(dir: string): boolean {
  if (!present(join(dir, 'config.json'))) return false;
  if (present(join(dir, SINGLE_FILE))) return true;
  const index = join(dir, INDEX_FILE);
  if (!present(index)) return false;
  try {
    return shardNames(readFileSync(index, 'utf8')).every((f) => present(join(dir, f)));
  } catch {
    return false;
  }
}

/** The shard files a safetensors index names. */
export function shardNames(indexText: string): string[] {
  const index = JSON.parse(indexText) as { weight_map?: Record<string, string> };
  if (!index.weight_map || typeof index.weight_map !== 'object')
    throw new UserError(`${INDEX_FILE} has no weight_map`);
  return [...new Set(Object.values(index.weight_map))];
}
