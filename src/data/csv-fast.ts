/**
 * A fast RFC 4180 reader for well-formed CSV: comma-separated, double-quote quoting with "" escapes, \n or \r\n
 * record ends, quoted newlines, a leading BOM, blank lines skipped. It returns undefined on anything else
 * (a quote inside an unquoted field, text after a closing quote, an unterminated quote, a bare \r, mixed
 * \n and \r\n record ends, a whitespace-only line), and the caller then uses csv-parse, which reports the exact error and line. On the
 * input it accepts it yields exactly what csv-parse yields with { bom, relax_column_count, skip_empty_lines }
 * (src/data/csv-fast.test.ts checks this on the paper files and edge cases); it also records each record's
 * first line, so messages can cite lines without a second pass.
 */
export interface FastCsv {
  records: string[][];
  /** 1-based line on which each record starts. */
  lines: Int32Array;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

export function parseCsvFast(text: string): FastCsv | undefined {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  const records: string[][] = [];
  const starts: number[] = [];
  let line = 1;
  let crlf: boolean | undefined;
  // One record-end style per file (\n or \r\n), fixed by the first one seen; a bare \r is never accepted.
  const endOk = (len: number): boolean => {
    if (len === 0) return false;
    crlf ??= len === 2;
    return crlf === (len === 2);
  };
  while (i < n) {
    // Blank lines (csv-parse's skip_empty_lines) are skipped; they still count as lines.
    const c0 = text.charCodeAt(i);
    if (c0 === LF || c0 === CR) {
      const len = endLength(text, i);
      if (!endOk(len)) return undefined;
      line++;
      i += len;
      continue;
    }
    const record: string[] = [];
    const startLine = line;
    let blankSoFar = true;
    for (;;) {
      let field: string;
      if (text.charCodeAt(i) === QUOTE) {
        let j = i + 1;
        let parts: string[] | undefined;
        let from = j;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) return undefined; // unterminated quote
          for (let k = text.indexOf('\n', j); k !== -1 && k < q; k = text.indexOf('\n', k + 1)) line++;
          if (text.charCodeAt(q + 1) === QUOTE) {
            if (!parts) parts = [];
            parts.push(text.slice(from, q + 1));
            j = q + 2;
            from = j;
            continue;
          }
          const tail = text.slice(from, q);
          field = parts ? parts.join('') + tail : tail;
          i = q + 1;
          break;
        }
        blankSoFar = false;
        const c = text.charCodeAt(i);
        if (i < n && c !== COMMA && c !== LF && c !== CR) return undefined; // text after a closing quote
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === LF || c === CR) break;
          if (c === QUOTE) return undefined; // quote inside an unquoted field
        }
        field = text.slice(i, j);
        if (blankSoFar && field.trim() !== '') blankSoFar = false;
        i = j;
      }
      record.push(field);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i++;
        if (i >= n) {
          record.push('');
          break;
        }
        continue;
      }
      // Mixed \n and \r\n record ends go to csv-parse, which fixes the style from the first one too.
      const len = endLength(text, i);
      if (!endOk(len)) return undefined;
      i += len;
      line++;
      break;
    }
    // A whitespace-only line is a corner where csv-parse's own rules apply.
    if (blankSoFar && record.length === 1) return undefined;
    records.push(record);
    starts.push(startLine);
  }
  return { records, lines: Int32Array.from(starts) };
}

/** Length of the record end at i: 1 for \n, 2 for \r\n, 0 for a bare \r. */
function endLength(text: string, i: number): number {
  if (text.charCodeAt(i) === LF) return 1;
  return text.charCodeAt(i + 1) === LF ? 2 : 0;
}
