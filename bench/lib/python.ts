/**
 * How every bench starts its Python reference: /usr/bin/python3 through bench/lib/py_run.py, with
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from that child's environment only. The machines here set both
 * (Haswell, 512) as a guard for old OpenBLAS builds; with them NumPy and Debian's PyTorch run AVX2 Haswell kernels
 * instead of the processor's own (a 1024x4096x4096 f32 GEMM at ~0.55x speed), which made every ratio flattering.
 * This process's environment, and so every test and CI run, keeps them. py_run.py writes what the reference
 * really ran on (threadpoolctl's BLAS kernel and threads, torch's parallel info) when it exits.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
/** The variables removed from a reference's environment (see the header). */
export const BLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;
const WRAPPER = join(import.meta.dirname, 'py_run.py');

/** What a reference process ran on, as py_run.py recorded it at exit. */
export interface ReferenceInfo {
  python?: string;
  openblas_env: Record<string, string>;
  threadpoolctl?: {
    user_api: string;
    internal_api: string;
    architecture: string | null;
    num_threads: number;
    version: string | null;
  }[];
  threadpoolctl_error?: string;
  torch?: {
    version: string;
    threads: number;
    interop_threads: number;
    parallel_info: string;
    cpu_capability: string | null;
  };
  versions?: Record<string, string>;
}

/** This process's environment without the BLAS overrides (plus `extra`), for a reference child only. */
export function referenceEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of BLAS_OVERRIDES) delete env[name];
  return env;
}

/** A reference invocation: command, args and env for `spawn`, and `info()` to read back after it exited. */
export interface PythonInvocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The recorded ReferenceInfo (also printed once per bench), then removes the temp file. */
  info(): ReferenceInfo;
}

/** The invocation of `script args` with the fair environment, for callers that spawn it themselves. */
export function pythonInvocation(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): PythonInvocation {
  const dir = mkdtempSync(join(tmpdir(), 'stl-bench-py-'));
  const file = join(dir, 'blas.json');
  return {
    command: PYTHON,
    args: [WRAPPER, script, ...args],
    env: referenceEnv({ ...env, STL_BENCH_BLAS_OUT: file }),
    info() {
      try {
        const info = JSON.parse(readFileSync(file, 'utf8')) as ReferenceInfo;
        noteReference(info);
        return info;
      } catch {
        throw new Error(`${script} left no BLAS record (did it run through bench/lib/py_run.py?)`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface PythonResult {
  status: number | null;
  stdout: string;
  stderr: string;
  info: ReferenceInfo;
}

/** Runs a reference script to completion; throws with its stderr when it fails. */
export function runPython(
  script: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): PythonResult {
  const inv = pythonInvocation(script, args, opts.env);
  const r = spawnSync(inv.command, inv.args, { env: inv.env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, info: inv.info() };
}

/** Starts a reference script (streamed output); call `inv.info()` after it closed. */
export function spawnPython(
  script: string,
  args: string[],
  opts: SpawnOptions = {},
): { child: ChildProcess; inv: PythonInvocation } {
  const inv = pythonInvocation(script, args);
  return { child: spawn(inv.command, inv.args, { ...opts, env: inv.env }), inv };
}

/** One line: the BLAS library and kernel, threads, and torch's threads and ATen capability. */
export function describeReference(info: ReferenceInfo): string {
  const blas = (info.threadpoolctl ?? []).filter((l) => l.user_api === 'blas');
  const parts = blas.map(
    (l) => `${l.internal_api} ${l.version ?? ''} kernel ${l.architecture ?? '?'}, ${l.num_threads} threads`,
  );
  if (!info.threadpoolctl) parts.push(`threadpoolctl unavailable (${info.threadpoolctl_error})`);
  else if (blas.length === 0) parts.push('no BLAS loaded');
  if (info.torch) {
    const omp = /omp_get_max_threads\(\) : (\d+)/.exec(info.torch.parallel_info)?.[1];
    parts.push(
      `torch ${info.torch.version} ${info.torch.threads} threads (OpenMP ${omp ?? '?'}), ATen ${info.torch.cpu_capability ?? '?'}`,
    );
  }
  const env = Object.entries(info.openblas_env);
  if (env.length) parts.push(`WARNING: ran with ${env.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return parts.join('; ');
}

/** The short kernel name for tables: e.g. "openblas Cooperlake x2 + torch x2". */
export function kernelName(info: ReferenceInfo | undefined): string {
  if (!info) return 'none';
  const blas = (info.threadpoolctl ?? []).filter((l) => l.user_api === 'blas');
  const names = blas.map((l) => `${l.internal_api} ${l.architecture ?? '?'} x${l.num_threads}`);
  if (info.torch) names.push(`torch x${info.torch.threads}`);
  return names.join(' + ') || 'no BLAS';
}

const seen = new Set<string>();
let last: ReferenceInfo | undefined;
/** Prints each distinct reference environment once per bench process; remembers the latest for results. */
function noteReference(info: ReferenceInfo): void {
  last = info;
  const line = describeReference(info);
  if (seen.has(line)) return;
  seen.add(line);
  console.log(`reference: ${line}`);
}

/** The latest reference run's info (undefined before any). */
export function lastReference(): ReferenceInfo | undefined {
  return last;
}
