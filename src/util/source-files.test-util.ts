/**
 * The checkout's TypeScript files under src/, split as the build splits them: library files ship (tsconfig.build.json),
 * tests and test helpers do not. Used by the tests that check the code itself (stages, statistics, shared).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Tests and test helpers: *.test.ts, *.test-util.ts, testing.ts, testing-*.ts, test-data.ts, fixtures.ts. */
export const TEST_HELPER =
  /(\.test\.ts|\.test-util\.ts|[\\/]testing(-[^\\/]*)?\.ts|[\\/]test-data\.ts|[\\/]fixtures\.ts)$/;

/** Every .ts file below `dir` that `keep` accepts (default: all), depth first. */
export function tsFiles(
  dir: string,
  keep: (path: string) => boolean = () => true,
  out: string[] = [],
): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsFiles(path, keep, out);
    else if (name.endsWith('.ts') && keep(path)) out.push(path);
  }
  return out;
}

/** The library's files below `dir`: no tests, no test helpers. */
export const libraryFiles = (dir: string): string[] => tsFiles(dir, (p) => !TEST_HELPER.test(p));

/** The test files (*.test.ts) below `dir`. */
export const testFiles = (dir: string): string[] => tsFiles(dir, (p) => p.endsWith('.test.ts'));
