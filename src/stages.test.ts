import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from './util/paths.js';
import { libraryFiles } from './util/source-files.test-util.js';

/**
 * The stage rule (README, "Layout"): a file may import from its own stage, from a stage below it, or from the shared
 * base (util, native, version.ts), never from a stage above. Stages, lowest first:
 *   data / formats / store -> model -> probe -> extract -> experiments / neurons / sae -> report -> pipeline -> cli
 * and src/index.ts (the public API) sits above all of them. Tests and test helpers (*.test.ts, testing.ts,
 * testing-*.ts, test-data.ts, *.test-util.ts, fixtures.ts) may reach anywhere: they are not part of the library
 * (tsconfig.build.json leaves them out of dist; package.test.ts checks what ships).
 */
const RANK: Record<string, number> = {
  util: 0,
  native: 0,
  'version.ts': 0,
  data: 1,
  formats: 1,
  store: 1,
  model: 2,
  probe: 3,
  extract: 4,
  experiments: 5,
  neurons: 5,
  sae: 5,
  report: 6,
  pipeline: 7,
  cli: 8,
  'index.ts': 9,
};

/** The stage of a file under src/: its first path segment (a folder, or a top-level file name). */
function stageOf(srcRoot: string, file: string): string {
  return relative(srcRoot, file).split(/[\\/]/)[0]!.replace(/\.js$/, '.ts');
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
export function relativeImports(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g, /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

test('relativeImports finds static, type, re-export and dynamic imports', () => {
  const text = [
    "import { a } from '../model/index.js';",
    "import type { B } from './b.js';",
    "export * from '../probe/index.js';",
    "const { c } = await import('../../report/index.js');",
    "import { readFile } from 'node:fs/promises';",
  ].join('\n');
  assert.deepEqual(relativeImports(text), [
    '../model/index.js',
    './b.js',
    '../probe/index.js',
    '../../report/index.js',
  ]);
});

test('no file under src/ imports from a stage above its own', () => {
  const srcRoot = join(packageRoot(), 'src');
  const violations: string[] = [];
  const unknown = new Set<string>();
  const files = libraryFiles(srcRoot);
  assert.ok(files.length > 50, `expected the whole source tree, found ${files.length} files`);
  for (const file of files) {
    const from = stageOf(srcRoot, file);
    if (RANK[from] === undefined) unknown.add(from);
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const to = stageOf(srcRoot, target);
      if (RANK[to] === undefined) unknown.add(to);
      else if (RANK[to]! > (RANK[from] ?? -1)) {
        violations.push(`${relative(srcRoot, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  }
  assert.deepEqual([...unknown], [], 'a new folder under src/ needs a place in the stage order (RANK)');
  assert.deepEqual(violations, []);
});
