import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { f16ToF32, f32ToF16 } from '../formats/float16.js';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { processAlive } from '../util/lock.js';

export { formatBytes, freeBytes } from '../util/disk.js';

import { keyDifferences } from './cache-key.js';

/**
 * The work directory of a resumable extraction: `<store>.work/` beside the final store. It holds `job.json` (the
 * settings that must not change between a run and its resume, plus the first run's timestamp so the final store is
 * byte-identical after a resume) and one `chunk-NNNNNN.safetensors` per finished chunk of rows, each written to a
 * temp name and renamed, so a chunk file either is complete or does not exist.
 */
export interface JobFile {
  format: 'spacetime-lens/extract-job@1';
  /** Everything that determines the chunks' contents; a resume must match it exactly. */
  key: Record<string, unknown>;
  createdAt: string;
  rowStart: number;
  rowEnd: number;
  chunkRows: number;
}

/** One finished chunk: rows [start, end) of the dataset. */
export interface ChunkData {
  start: number;
  end: number;
  /** Full hook name -> [rows, d] values (already in the chunk dtype's precision). */
  values: Map<string, Float32Array>;
  d: number;
  /** Per row: input ids (BOS first) and the kept token / entity token span. */
  inputIds: number[][];
  positions: number[];
  entitySpans: [number, number][];
}

export function workDirFor(storeDir: string): string {
  return `${storeDir.replace(/[\\/]+$/, '')}.work`;
}

export function chunkFileName(chunkIndex: number): string {
  return `chunk-${String(chunkIndex).padStart(6, '0')}.safetensors`;
}

/** Reads job.json, or undefined when there is none. */
export async function readJob(workDir: string): Promise<JobFile | undefined> {
  const path = join(workDir, 'job.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const job = JSON.parse(text) as JobFile;
    if (job.format !== 'spacetime-lens/extract-job@1') throw new Error('unknown format');
    return job;
  } catch (err) {
    throw new UserError(
      `${path} is not a valid extraction job file (${(err as Error).message}); delete ${workDir}`,
    );
  }
}

export async function writeJob(workDir: string, job: JobFile): Promise<void> {
  await writeFileAtomic(join(workDir, 'job.json'), JSON.stringify(job, null, 2) + '\n');
}

/** Lists the fields where a resumed job differs from the stored one (empty = same job), with the flag of each. */
export function diffJobKeys(stored: Record<string, unknown>, current: Record<string, unknown>): string[] {
  return keyDifferences(stored, current, {
    chunkRows: '--batch-size',
    rowStart: '--shard',
    rowEnd: '--shard',
  }).map((d) => `${d.field}: ${d.stored} -> ${d.wanted} (${d.flag})`);
}

/** Indices of the chunk files present in the work dir. */
export async function finishedChunks(workDir: string): Promise<Set<number>> {
  const out = new Set<number>();
  let names: string[] = [];
  try {
    names = await readdir(workDir);
  } catch {
    return out;
  }
  for (const name of names) {
    const m = /^chunk-(\d{6})\.safetensors$/.exec(name);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** Stored precision of chunk values: f16 stores halves (exact for an f16 store), anything else f32. */
export type ChunkPrecision = 'F32' | 'F16';

/** Writes one chunk atomically. Values are [rows, d] per hook; ids/positions are kept for the store's entities. */
export async function writeChunk(
  workDir: string,
  chunkIndex: number,
  chunk: ChunkData,
  precision: ChunkPrecision,
): Promise<void> {
  const rows = chunk.end - chunk.start;
  const tensors: TensorToWrite[] = [];
  for (const [name, data] of chunk.values) {
    tensors.push({
      name,
      dtype: precision,
      shape: [rows, chunk.d],
      data: precision === 'F16' ? f32ToF16(data) : data,
    });
  }
  const offsets = new Int32Array(rows + 1);
  for (let i = 0; i < rows; i++) offsets[i + 1] = offsets[i]! + chunk.inputIds[i]!.length;
  tensors.push(
    {
      name: '__input_ids',
      dtype: 'I32',
      shape: [offsets[rows]!],
      data: Int32Array.from(chunk.inputIds.flat()),
    },
    { name: '__input_offsets', dtype: 'I32', shape: [rows + 1], data: offsets },
    { name: '__positions', dtype: 'I32', shape: [rows], data: Int32Array.from(chunk.positions) },
    {
      name: '__entity_spans',
      dtype: 'I32',
      shape: [rows, 2],
      data: Int32Array.from(chunk.entitySpans.flat()),
    },
  );
  await writeSafetensors(join(workDir, chunkFileName(chunkIndex)), tensors, {
    start: String(chunk.start),
    end: String(chunk.end),
  });
}

/** A finished chunk opened lazily: tensors are read one at a time. */
export class ChunkReader {
  private constructor(
    private readonly file: SafetensorsFile,
    readonly start: number,
    readonly end: number,
  ) {}

  static async open(workDir: string, chunkIndex: number): Promise<ChunkReader> {
    const file = await SafetensorsFile.open(join(workDir, chunkFileName(chunkIndex)));
    const start = Number(file.metadata['start']);
    const end = Number(file.metadata['end']);
    if (!Number.isInteger(start) || !Number.isInteger(end) || end < start) {
      await file.close();
      throw new UserError(`${file.path}: chunk metadata is damaged; delete the file and rerun with --resume`);
    }
    return new ChunkReader(file, start, end);
  }

  /** [rows, d] values of one hook as f32 (f16 chunks widen exactly). */
  async values(hook: string): Promise<Float32Array> {
    const info = this.file.info(hook);
    const raw = await this.file.readRaw(hook);
    return info.dtype === 'F16'
      ? f16ToF32(new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2))
      : new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  }

  async tokens(): Promise<{ inputIds: number[][]; positions: number[]; entitySpans: [number, number][] }> {
    const ints = async (name: string) => {
      const raw = await this.file.readRaw(name);
      return new Int32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    };
    const ids = await ints('__input_ids');
    const offsets = await ints('__input_offsets');
    const positions = await ints('__positions');
    const spans = await ints('__entity_spans');
    const rows = this.end - this.start;
    const inputIds: number[][] = [];
    const entitySpans: [number, number][] = [];
    for (let i = 0; i < rows; i++) {
      inputIds.push(Array.from(ids.subarray(offsets[i]!, offsets[i + 1]!)));
      entitySpans.push([spans[2 * i]!, spans[2 * i + 1]!]);
    }
    return { inputIds, positions: Array.from(positions), entitySpans };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Removes temp directories of a store build killed mid-way (`.<name>.<pid>.<hex>.tmp` beside the store, see
 * src/util/fsx tempSibling) whose process is gone, so that a resume leaves no litter.
 */
export async function removeStaleStoreTemps(storeDir: string): Promise<string[]> {
  const parent = dirname(storeDir);
  const prefix = `.${basename(storeDir)}.`;
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Removes the work directory once its store is in place. */
export async function removeWorkDir(workDir: string): Promise<void> {
  await rm(workDir, { recursive: true, force: true });
}

/** Turns ENOSPC / EDQUOT / EFBIG into a UserError that says what to do; anything else passes through. */
export function diskError(err: unknown, where: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new UserError(
      `disk full while writing ${where} (${code}); nothing half-written was kept. Free some space and rerun with --resume`,
    );
  }
  return err;
}
