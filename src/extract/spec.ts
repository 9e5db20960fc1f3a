import { UserError } from '../util/errors.js';

export type Aggregation = 'last' | 'mean';
export type ExtractDtype = 'f32' | 'f16' | 'int8';

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
