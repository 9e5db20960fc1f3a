import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { packageRoot } from '../util/paths.js';
import { buildProgram, main } from './main.js';

// Help texts and docs may only point at files inside the repository: the method is docs/method.md (with stable
// anchors), never the spec outside the checkout (METHOD.md, ../shared/...).
const root = packageRoot();
const OUTSIDE = /METHOD\.md|§\d|\.\.\/shared|shared\/spec|NOTES\.md/;
/** In files: the spec outside the checkout (tests may still read the paper CSVs from ../shared/data). */
const SPEC = /METHOD\.md|§\d|shared\/spec|NOTES\.md/;

/** Every command path: [], ['datasets'], ['datasets', 'fetch'], ... */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return [prefix, ...cmd.commands.flatMap((c) => commandPaths(c, [...prefix, c.name()]))];
}

/** What `spacetime-lens PATH... --help` prints (commander writes help to stdout directly). */
async function helpText(path: string[]): Promise<string> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => chunks.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    assert.equal(await main([...path, '--help']), 0, `${path.join(' ')} --help`);
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

const methodAnchors = new Set(
  [...readFileSync(join(root, 'docs/method.md'), 'utf8').matchAll(/<a id="([a-z-]+)"><\/a>/g)].map(
    (m) => m[1]!,
  ),
);

function checkReferences(text: string, where: string, outside = OUTSIDE): void {
  const line = text.split('\n').find((l) => outside.test(l));
  assert.equal(line, undefined, `${where} refers to a file outside the repository`);
  for (const m of text.matchAll(/method\.md#([A-Za-z0-9-]+)/g)) {
    assert.ok(methodAnchors.has(m[1]!), `${where}: docs/method.md has no anchor #${m[1]}`);
  }
  for (const m of text.matchAll(/\bdocs\/([\w-]+\.md)/g)) {
    assert.ok(existsSync(join(root, 'docs', m[1]!)), `${where}: docs/${m[1]} does not exist`);
  }
}

test('docs/method.md has every stable anchor', () => {
  const wanted = ['datasets', 'prompts', 'activations', 'probes', 'metrics', 'mlp', 'pca', 'block-holdout'];
  wanted.push('entity-holdout', 'prompt-experiments', 'neurons', 'interventions', 'familiarity', 'controls');
  wanted.push('paper-compat');
  assert.deepEqual(
    wanted.filter((a) => !methodAnchors.has(a)),
    [],
  );
});

test('every command’s --help names no file outside the repository, and its method links resolve', async () => {
  const paths = commandPaths(buildProgram());
  assert.ok(paths.length > 15, `expected every command and subcommand, got ${paths.length}`);
  let methodLinks = 0;
  for (const path of paths) {
    const text = await helpText(path);
    assert.match(text, /Usage:/, `${path.join(' ')} --help printed no usage`);
    checkReferences(text, `spacetime-lens ${path.join(' ')} --help`);
    methodLinks += (text.match(/docs\/method\.md#/g) ?? []).length;
  }
  assert.ok(methodLinks > 0, 'some help text cites the method (probe --paper-compat does)');
});

test('sources, docs, README, bench, reference and examples cite docs/method.md anchors that exist', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name === 'node_modules' || name === 'out' || name.startsWith('.')) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|md|py|sh|sbatch|ya?ml)$/.test(name)) files.push(path);
    }
  };
  for (const dir of ['src', 'docs', 'bench', 'reference', 'examples']) walk(join(root, dir));
  files.push(join(root, 'README.md'));
  for (const file of files) {
    if (file.endsWith('help.test.ts')) continue; // this file names the forbidden patterns
    checkReferences(readFileSync(file, 'utf8'), file.slice(root.length + 1), SPEC);
  }
});

test('README and docs name only source files that exist', () => {
  const docs = ['README.md', 'bench/README.md', 'src/probe/README.md'];
  docs.push(
    ...readdirSync(join(root, 'docs'))
      .filter((n) => n.endsWith('.md'))
      .map((n) => `docs/${n}`),
  );
  const missing: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(join(root, doc), 'utf8');
    for (const m of text.matchAll(
      /\b(?:src|bench|scripts|reference|examples)\/[\w./-]+\.(?:ts|mjs|py|sh)\b/g,
    ))
      if (!existsSync(join(root, m[0]))) missing.push(`${doc}: ${m[0]}`);
  }
  assert.deepEqual(missing, []);
});
