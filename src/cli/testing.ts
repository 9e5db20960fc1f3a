import { main } from './main.js';

export interface CliRun {
  code: number;
  /** What the command printed with console.log, one entry per line joined by newlines. */
  out: string;
  /** console.error plus raw writes to stderr (progress, warnings). */
  err: string;
}

/** Runs the CLI in-process (as `spacetime-lens ARGV...`) and captures what it prints; for tests. */
export async function runCliCaptured(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
  }
}
