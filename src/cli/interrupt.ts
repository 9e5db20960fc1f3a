/**
 * Ctrl-C during a long command (extract, run, paper): instead of dying silently, say what was kept on disk and the
 * exact command that continues, then exit 130 (128 + SIGINT, what shells expect).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

let invocation: string[] = [];

/** main() records its argv here so that the interrupt line can repeat the exact command. */
export function rememberInvocation(argv: string[]): void {
  invocation = [...argv];
}

/** One argument for a POSIX shell: as is when it is plain, else single-quoted. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** The command as the user typed it, plus `extra` flags it lacks (e.g. --resume). */
export function repeatCommand(extra: string[] = []): string {
  const args = [...invocation, ...extra.filter((f) => !invocation.includes(f))];
  return ['spacetime-lens', ...args].map(shellQuote).join(' ');
}

/** Finished extraction chunks in the `*.work` directories at or below `dir` (a few levels deep). */
export function countFinishedChunks(dir: string, depth = 4): number {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  let count = 0;
  for (const name of entries) {
    if (/^chunk-\d+\.safetensors$/.test(name) && dir.endsWith('.work')) count++;
    else if (depth > 0) {
      const path = join(dir, name);
      try {
        if (statSync(path).isDirectory()) count += countFinishedChunks(path, depth - 1);
      } catch {
        // vanished while we looked (a rename in flight): nothing to count
      }
    }
  }
  return count;
}

/** `N finished extraction chunk(s)` kept for `dir` and its `.work` sibling. */
export function keptChunks(dir: string): string {
  const n = countFinishedChunks(`${dir.replace(/[\\/]+$/, '')}.work`, 0) + countFinishedChunks(dir);
  return `${n} finished extraction chunk${n === 1 ? '' : 's'}`;
}

/**
 * Runs `work`; a SIGINT meanwhile prints `spacetime-lens: interrupted; <describe()>` and exits 130. The handler is
 * removed afterwards, so in-process callers (tests) keep Node's default behaviour.
 */
export async function withInterruptNotice<T>(describe: () => string, work: () => Promise<T>): Promise<T> {
  const onSigint = () => {
    let what: string;
    try {
      what = describe();
    } catch (err) {
      what = `(could not list what was kept: ${(err as Error).message})`;
    }
    process.stderr.write(`\nspacetime-lens: interrupted; ${what}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSigint);
  }
}
