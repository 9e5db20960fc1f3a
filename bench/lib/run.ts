/**
 * What every bench prints and records around its timings: the CPU model, the load average before and after (a run
 * whose 1-minute load reached 3 is flagged), the reference's BLAS kernel (bench/lib/python.ts), and one RESULT line
 * per figure. With STL_BENCH_SUMMARY=FILE (bench/run-all.ts sets it) each result is also appended to FILE as one
 * JSON line: benchmark, ours, reference, ratio, roofline share, BLAS kernel, CPU, load before/after, date, commit.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { kernelName, lastReference, type ReferenceInfo } from './python.js';

/** The 1-minute load at or above which a run is not a figure for a README (2-core machine). */
export const LOADED = 3;

export function loadavg(): [number, number, number] {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [a!, b!, c!];
}

export function cpuModel(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  return /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? 'unknown CPU';
}

function commit(): string {
  try {
    const root = join(import.meta.dirname, '..', '..');
    const head = execFileSync('git', ['-C', root, 'rev-parse', '--short=10', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'bench'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** One figure: `ours` and `reference` in `unit`; `ratio` > 1 means ours is faster (reference time / ours time). */
export interface Result {
  benchmark: string;
  unit: string;
  ours: number;
  reference: number | null;
  referenceName: string;
  ratio: number | null;
  /** Ours as a share of the measured GEMM roofline (0..1), where it applies. */
  roofline?: number;
  /** Anything the table should show beside the numbers (agreement, chosen alpha, ...). */
  note?: string;
}

export interface SummaryLine extends Result {
  kernel: string;
  cpu: string;
  cores: number;
  loadBefore: number;
  loadAfter: number;
  loaded: boolean;
  date: string;
  commit: string;
  /** The bench/run-all.ts step that measured it ($STL_BENCH_STEP). */
  step?: string;
  reference_env?: ReferenceInfo;
}

/** A bench run: prints the header now, `result()` per figure, `finish()` at the end. */
export class BenchRun {
  readonly cpu = cpuModel();
  readonly commit = commit();
  private readonly start = loadavg();
  private since = this.start[0];
  private maxLoad = this.start[0];

  constructor(readonly name: string) {
    console.log(
      `bench ${name}: CPU ${this.cpu}, ${availableParallelism()} cores; load average ${this.start.join(' ')}; ` +
        `commit ${this.commit}; ${new Date().toISOString()}`,
    );
  }

  /** Prints one RESULT line and appends it to $STL_BENCH_SUMMARY; the load is taken since the previous result. */
  result(r: Result): SummaryLine {
    const now = loadavg()[0];
    this.maxLoad = Math.max(this.maxLoad, now);
    const ref = r.reference === null ? undefined : lastReference();
    const rec: SummaryLine = {
      ...r,
      benchmark: `${this.name}: ${r.benchmark}`,
      kernel: kernelName(ref),
      cpu: this.cpu,
      cores: availableParallelism(),
      loadBefore: this.since,
      loadAfter: now,
      loaded: Math.max(this.since, now) >= LOADED,
      date: new Date().toISOString(),
      commit: this.commit,
      ...(process.env['STL_BENCH_STEP'] && { step: process.env['STL_BENCH_STEP'] }),
      ...(ref && { reference_env: ref }),
    };
    this.since = now;
    const { reference_env: _, ...shown } = rec;
    console.log(`RESULT ${JSON.stringify(shown)}`);
    const file = process.env['STL_BENCH_SUMMARY'];
    if (file) appendFileSync(file, `${JSON.stringify(rec)}\n`);
    return rec;
  }

  /** Prints the load before and after, flagged when the 1-minute load reached LOADED. */
  finish(): void {
    const end = loadavg();
    const loaded = Math.max(this.maxLoad, end[0]) >= LOADED;
    console.log(
      `load average before ${this.start.join(' ')}, after ${end.join(' ')}` +
        (loaded ? ` -- LOADED (1-min load >= ${LOADED}): not a figure for a README` : ' (quiet)'),
    );
  }
}
