import { UserError } from '../util/errors.js';

/** Short hook names accepted by `--hooks`, mapped to the TransformerLens-style per-layer hook suffix. */
export const HOOK_ALIASES: Readonly<Record<string, string>> = {
  resid_post: 'hook_resid_post',
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  mlp_post: 'mlp.hook_post',
};

export type Aggregation = 'last' | 'mean';
export type ExtractDtype = 'f32' | 'f16' | 'int8';

/**
 * Parses `--layers`: `all`, a list `0,8,16`, a Python-style range `start:stop[:step]` (stop exclusive; `:` alone or
 * an empty stop means the number of layers), negative indices counting from the end, or a mix (`0,10:20:5,-1`).
 * Returns sorted unique layer indices, all within [0, nLayers).
 */
export function parseLayers(spec: string, nLayers: number): number[] {
  const text = spec.trim();
  if (text === '' || text === 'all') return Array.from({ length: nLayers }, (_, i) => i);
  const out = new Set<number>();
  const index = (raw: string, what: string): number => {
    if (!/^-?\d+$/.test(raw))
      throw new UserError(`--layers: '${raw}' is not an integer (in '${spec}', ${what})`);
    const v = Number(raw);
    return v < 0 ? nLayers + v : v;
  };
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p.includes(':')) {
      const [a = '', b = '', c = '', ...rest] = p.split(':');
      if (rest.length) throw new UserError(`--layers: '${p}' has too many ':' (use start:stop:step)`);
      const start = a.trim() === '' ? 0 : index(a.trim(), 'range start');
      const stop = b.trim() === '' ? nLayers : index(b.trim(), 'range stop');
      const step = c.trim() === '' ? 1 : Number(c.trim());
      if (!Number.isInteger(step) || step <= 0)
        throw new UserError(`--layers: step in '${p}' must be a positive integer`);
      for (let l = start; l < Math.min(stop, nLayers); l += step) out.add(l);
      if (start >= nLayers || start < 0) {
        throw new UserError(`--layers: range '${p}' starts outside the model's layers 0..${nLayers - 1}`);
      }
    } else {
      const l = index(p, 'list entry');
      if (l < 0 || l >= nLayers) {
        throw new UserError(`--layers: layer ${p} does not exist (the model has layers 0..${nLayers - 1})`);
      }
      out.add(l);
    }
  }
  if (out.size === 0) throw new UserError(`--layers: '${spec}' selects no layer`);
  return [...out].sort((x, y) => x - y);
}

/** Parses `--hooks resid_post,mlp_post` into per-layer hook suffixes (`hook_resid_post`, `mlp.hook_post`). */
export function parseHooks(spec: string): string[] {
  const out: string[] = [];
  for (const raw of spec.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const suffix = HOOK_ALIASES[name] ?? (Object.values(HOOK_ALIASES).includes(name) ? name : undefined);
    if (!suffix) {
      throw new UserError(
        `--hooks: unknown hook '${name}' (choose from ${Object.keys(HOOK_ALIASES).join(', ')})`,
      );
    }
    if (!out.includes(suffix)) out.push(suffix);
  }
  if (!out.length) throw new UserError('--hooks: no hook given');
  return out;
}

/** Full TransformerLens hook name for a layer: `blocks.12.hook_resid_post`. */
export function hookName(layer: number, suffix: string): string {
  return `blocks.${layer}.${suffix}`;
}

export function parseAggregation(value: string): Aggregation {
  if (value === 'last' || value === 'mean') return value;
  throw new UserError(`--aggregate: '${value}' is not one of last, mean`);
}

export function parseDtype(value: string): ExtractDtype {
  if (value === 'f32' || value === 'f16' || value === 'int8') return value;
  throw new UserError(`--dtype: '${value}' is not one of f32, f16, int8`);
}

export function parsePositiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0)
    throw new UserError(`${flag}: '${value}' must be a positive integer`);
  return Number(value);
}

export function parseSeed(value: string): number {
  const v = Number(value);
  if (!/^\d+$/.test(value.trim()) || v > 0xffffffff) {
    throw new UserError(`--seed: '${value}' must be an integer in [0, 4294967295]`);
  }
  return v;
}

/** One slice of a job split across processes: shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
  /** Where the shard came from, for messages: '--shard', 'SLURM_ARRAY_TASK_ID', 'JOB_COMPLETION_INDEX'. */
  source: string;
}

function shardOf(index: number, count: number, source: string): Shard {
  if (!Number.isInteger(count) || count < 1)
    throw new UserError(`${source}: shard count ${count} must be >= 1`);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new UserError(`${source}: shard index ${index} is outside 0..${count - 1}`);
  }
  return { index, count, source };
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\d+$/.test(raw.trim()))
    throw new UserError(`environment variable ${name}='${raw}' is not a non-negative integer`);
  return Number(raw);
}

/**
 * Resolves which shard this process extracts. Precedence: `--shard i/N`; then a Slurm array job
 * (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`); then a Kubernetes Indexed Job
 * (`JOB_COMPLETION_INDEX` of `--shard-count` or `SPACETIME_LENS_SHARD_COUNT`). None of these -> no sharding.
 * `--no-auto-shard` (autoShard false) ignores the environment.
 */
export function resolveShard(
  options: { shard?: string; shardCount?: number; autoShard?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Shard | undefined {
  if (options.shard !== undefined) {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(options.shard);
    if (!m)
      throw new UserError(
        `--shard: '${options.shard}' must look like i/N (0-based index i, N shards), e.g. 0/8`,
      );
    return shardOf(Number(m[1]), Number(m[2]), '--shard');
  }
  if (options.autoShard === false) return undefined;
  const slurmId = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    if (count === undefined) {
      throw new UserError(
        'SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard i/N explicitly',
      );
    }
    const min = envInt(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    return shardOf(slurmId - min, count, 'SLURM_ARRAY_TASK_ID');
  }
  const k8sIndex = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8sIndex !== undefined) {
    const count = options.shardCount ?? envInt(env, 'SPACETIME_LENS_SHARD_COUNT');
    if (count === undefined) {
      throw new UserError(
        'JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but the shard count is not: pass --shard-count N ' +
          "(the Job's completions) or set SPACETIME_LENS_SHARD_COUNT",
      );
    }
    return shardOf(k8sIndex, count, 'JOB_COMPLETION_INDEX');
  }
  return undefined;
}

/**
 * The rows a shard extracts: contiguous, whole chunks of the global chunk grid (so that every chunk is computed with
 * the same batch composition as in a single-process run, and results are byte-identical), spread evenly.
 */
export function shardRows(
  n: number,
  chunkRows: number,
  shard: Shard | undefined,
): { start: number; end: number } {
  if (!shard) return { start: 0, end: n };
  const chunks = Math.ceil(n / chunkRows);
  const first = Math.floor((shard.index * chunks) / shard.count);
  const last = Math.floor(((shard.index + 1) * chunks) / shard.count);
  return { start: Math.min(n, first * chunkRows), end: Math.min(n, last * chunkRows) };
}

/** Output directory of a shard: `<out>.shard-0003-of-0008`, so every array task can share one command line. */
export function shardOutDir(out: string, shard: Shard | undefined): string {
  if (!shard) return out;
  const width = Math.max(4, String(shard.count).length);
  const pad = (v: number) => String(v).padStart(width, '0');
  return `${out.replace(/[\\/]+$/, '')}.shard-${pad(shard.index)}-of-${pad(shard.count)}`;
}
