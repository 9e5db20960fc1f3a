import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { UserError } from '../util/errors.js';
import { parseCsvFast } from './csv-fast.js';

/** A raw table read from a CSV or JSONL file: header, column-oriented strings and a row -> line map. */
export interface RawTable {
  path: string;
  sha256: string;
  header: string[];
  columns: Record<string, string[]>;
  n: number;
  /** 1-based line where row i starts (the header is line 1 in a CSV). */
  lineOf(row: number): number;
  /** Rows whose field count differs from the header: [row, line, count]. */
  ragged: { row: number; line: number; count: number }[];
}

/** Reads a CSV (RFC 4180, quoted newlines allowed) or JSONL (.jsonl / .ndjson) file. */
export async function readTable(path: string): Promise<RawTable> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return parseJsonl(path, sha256, buf.toString('utf8'));
  return parseCsv(path, sha256, buf);
}

function parseCsv(path: string, sha256: string, buf: Buffer): RawTable {
  // Well-formed files take the fast reader (which also knows each record's line); anything irregular goes
  // through csv-parse, which reports the exact problem and line.
  const fast = parseCsvFast(buf.toString('utf8'));
  let records: string[][];
  if (fast) records = fast.records;
  else {
    try {
      records = parse(buf, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
    } catch (err) {
      throw csvError(path, err);
    }
  }
  if (records.length === 0) throw new UserError(`${path}: empty file (no header line)`);
  const header = records[0].map((h) => h.trim());
  checkHeader(path, header);
  const n = records.length - 1;
  const columns: Record<string, string[]> = {};
  for (const name of header) columns[name] = new Array<string>(n);
  const ragged: RawTable['ragged'] = [];
  const width = header.length;
  const cols = header.map((h) => columns[h]);
  for (let r = 0; r < n; r++) {
    const rec = records[r + 1];
    if (rec.length !== width) ragged.push({ row: r, line: 0, count: rec.length });
    for (let c = 0; c < width; c++) cols[c][r] = rec[c] ?? '';
  }
  let lines: Int32Array | undefined;
  const lineOf = (row: number): number => {
    if (fast) return fast.lines[row + 1];
    lines ??= csvRecordLines(buf, n);
    return lines[row];
  };
  for (const g of ragged) g.line = lineOf(g.row);
  return { path, sha256, header, columns, n, lineOf, ragged };
}

/** Line where each data record starts, from a second parse with csv-parse's `info` (only on the error path). */
function csvRecordLines(buf: Buffer, n: number): Int32Array {
  const lines = new Int32Array(n);
  const recs = parse(buf, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  }) as unknown as {
    info: { lines: number };
    record: string[];
  }[];
  // `info.lines` is the line where a record ends; newlines inside quoted fields tell where it starts.
  for (let r = 0; r < n && r + 1 < recs.length; r++) {
    let inner = 0;
    for (const field of recs[r + 1].record) {
      for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) inner++;
    }
    lines[r] = recs[r + 1].info.lines - inner;
  }
  return lines;
}

function csvError(path: string, err: unknown): UserError {
  if (err instanceof CsvError) {
    const line = (err as CsvError & { lines?: number }).lines;
    return new UserError(`${path}${line ? `:${line}` : ''}: malformed CSV: ${err.message}`);
  }
  return new UserError(`${path}: malformed CSV: ${String(err)}`);
}

function checkHeader(path: string, header: string[]): void {
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (!h) throw new UserError(`${path}:1: header column ${i + 1} has no name`);
    if (seen.has(h)) throw new UserError(`${path}:1: header names column "${h}" twice`);
    seen.add(h);
  });
}

function parseJsonl(path: string, sha256: string, text: string): RawTable {
  const objects: Record<string, unknown>[] = [];
  const lineNumbers: number[] = [];
  const header: string[] = [];
  const known = new Set<string>();
  const textLines = text.split('\n');
  for (let i = 0; i < textLines.length; i++) {
    const line = textLines[i].trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${path}:${i + 1}: invalid JSON: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(`${path}:${i + 1}: each line must be a JSON object`);
    }
    for (const key of Object.keys(value)) {
      if (!known.has(key)) {
        known.add(key);
        header.push(key);
      }
    }
    objects.push(value as Record<string, unknown>);
    lineNumbers.push(i + 1);
  }
  if (objects.length === 0) throw new UserError(`${path}: no JSON objects found`);
  const n = objects.length;
  const columns: Record<string, string[]> = {};
  for (const key of header) {
    const col = new Array<string>(n);
    for (let r = 0; r < n; r++) col[r] = jsonCell(objects[r][key]);
    columns[key] = col;
  }
  return { path, sha256, header, columns, n, lineOf: (row) => lineNumbers[row], ragged: [] };
}

/** JSON values become the strings a CSV would hold (booleans as True/False, like pandas writes them). */
function jsonCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return JSON.stringify(v);
}
