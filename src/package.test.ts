/**
 * What `npm publish` would ship: the build (tsconfig.build.json, the `build` script) emitted into a scratch copy of
 * the package, then `npm pack --dry-run --json` there. No test, test helper or fixture reader may be in it; the
 * library and the CLI must be. Hermetic: the checkout's own dist/ (possibly stale, possibly absent) is not used.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from './util/paths.js';

/** Test-only modules by name (the same conventions stages.test.ts and tsconfig.build.json use). */
const TEST_ONLY = /(\.test|\.test-util)\.|(^|\/)(testing|testing-[^/]*|test-data|fixtures)\.(js|d\.ts)/;

const root = packageRoot();
const scratch = mkdtempSync(join(tmpdir(), 'package-contents-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('npm pack ships the library and CLI, and no test, test helper or fixtures module', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    files: string[];
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts['build']!, /tsconfig\.build\.json/, 'the published build is the one checked here');
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(scratch, 'dist'),
    ],
    { stdio: 'pipe' },
  );
  for (const name of ['package.json', 'README.md', 'bin'])
    cpSync(join(root, name), join(scratch, name), { recursive: true });
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: scratch,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const expected of [
    'bin/spacetime-lens.js',
    'dist/src/index.js',
    'dist/src/cli/main.js',
    'dist/src/index.d.ts',
  ])
    assert.ok(files.includes(expected), `${expected} is missing from the package`);
  assert.ok(files.length > 150, `only ${files.length} files: the library did not build`);
  assert.deepEqual(
    files.filter((f) => TEST_ONLY.test(f)),
    [],
    'test-only modules ship: name them *.test-util.ts (or testing.ts, test-data.ts, fixtures.ts) and keep library code from importing them',
  );
  // test/fixtures is not shipped, so no shipped module may read from it
  assert.deepEqual(
    files.filter(
      (f) =>
        f.endsWith('.js') && readFileSync(join(scratch, f), 'utf8').match(/test['"]?\s*[/,]\s*['"]?fixtures/),
    ),
    [],
    'shipped modules that read test/fixtures (not in the package): move that code into a test helper',
  );
});
