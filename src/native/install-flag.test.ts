// The CUDA install of onnxruntime-node, as its installer decides it: a throwaway project with the checkout's own
// .npmrc and one local package (a tarball, so npm stays offline) whose postinstall runs onnxruntime-node's real
// script/install.js top to bottom in the environment npm gives install scripts, with only its final download
// (installPackages) and process.exit caught, and records the decision: exit early, or fetch which files. npm hands
// .npmrc keys and command-line flags to install scripts as npm_config_* variables; the installer reads
// ONNXRUNTIME_NODE_INSTALL / npm_config_onnxruntime_node_install first, and only when it is unset the CUDA key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageRoot } from '../util/paths.js';

const root = packageRoot();
const installJs = createRequire(join(root, 'package.json')).resolve('onnxruntime-node/script/install.js');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
const CUDA_FILES = [
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
];
const SKIP = { exit: 0 };
const FETCH_CUDA = { install: CUDA_FILES };

// Runs install.js as node would (CommonJS wrapper), its own requires resolved from its folder.
const probe = `
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const file = ${JSON.stringify('INSTALL_JS')};
const req = createRequire(file);
const utils = req('./install-utils.js');
let decision;
const fake = (id) =>
  id === './install-utils.js'
    ? { ...utils, installPackages: (_p, manifests) => { decision = { install: manifests.map((m) => path.basename(m.filepath)) }; } }
    : req(id);
const exit = process.exit;
process.exit = (code) => { throw { exitCode: code }; };
try {
  new Function('require', 'module', 'exports', '__filename', '__dirname', fs.readFileSync(file, 'utf8'))(
    fake, { exports: {} }, {}, file, path.dirname(file));
} catch (e) {
  decision = e && 'exitCode' in e ? { exit: e.exitCode } : { error: String(e && e.message) };
} finally {
  process.exit = exit;
}
fs.appendFileSync(process.env.FLAG_OUT, JSON.stringify(decision ?? null) + '\\n');
`.replace('"INSTALL_JS"', JSON.stringify(installJs));
let dir: string;
const out = () => join(dir, 'flag.jsonl');

/** npm in the project, with none of the outer npm's settings (tests may run under `npm test`). */
function npm(args: string[], extra: Record<string, string> = {}): void {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_|^ONNXRUNTIME_NODE_INSTALL/i.test(k)) env[k] = v;
  }
  Object.assign(env, {
    HOME: dir, // no user ~/.npmrc
    npm_config_cache: join(dir, '.npm-cache'),
    FLAG_OUT: out(),
    ...extra,
  });
  execFileSync('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: join(dir, 'project'),
    env,
    stdio: 'pipe',
  });
}

/** What install.js decided in the last script run: `{ exit: 0 }` (nothing fetched) or `{ install: [files] }`. */
function lastFlag(): unknown {
  const lines = readFileSync(out(), 'utf8').trim().split('\n');
  return JSON.parse(lines.at(-1)!);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stl-npmflag-'));
  const pkg = join(dir, 'flagprobe');
  mkdirSync(pkg);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'flagprobe', version: '1.0.0', scripts: { postinstall: 'node report.js' } }),
  );
  writeFileSync(join(pkg, 'report.js'), probe);
  execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: pkg, stdio: 'pipe' });
  const project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'p',
      version: '1.0.0',
      dependencies: { flagprobe: `file:${join(dir, 'flagprobe-1.0.0.tgz')}` },
    }),
  );
  copyFileSync(join(root, '.npmrc'), join(project, '.npmrc'));
  npm(['install']);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the checkout's .npmrc skips the CUDA download by default, and the documented flags turn it on", (t) => {
  assert.deepEqual(lastFlag(), SKIP, 'npm install: nothing fetched (offline-safe)');
  npm(['ci']);
  assert.deepEqual(lastFlag(), SKIP, 'npm ci: nothing fetched');
  // CI (.ci/run) exports ONNXRUNTIME_NODE_INSTALL=skip, which wins over any flag
  assert.match(readFileSync(join(root, '.ci', 'run'), 'utf8'), /^export ONNXRUNTIME_NODE_INSTALL=skip$/m);
  npm(['rebuild', 'flagprobe', '--onnxruntime-node-install-cuda=v12'], { ONNXRUNTIME_NODE_INSTALL: 'skip' });
  assert.deepEqual(lastFlag(), SKIP, 'ONNXRUNTIME_NODE_INSTALL=skip');
  if (!linuxX64) return t.skip('onnxruntime-node ships a CUDA provider for linux-x64 only');
  npm(['ci', '--onnxruntime-node-install-cuda=v12']);
  assert.deepEqual(lastFlag(), FETCH_CUDA, 'npm ci with the CUDA flag');
  npm(['rebuild', 'flagprobe', '--onnxruntime-node-install-cuda=v12']);
  assert.deepEqual(lastFlag(), FETCH_CUDA, 'npm rebuild with the CUDA flag');
  npm(['rebuild', 'flagprobe'], { ONNXRUNTIME_NODE_INSTALL_CUDA: 'v12' });
  assert.deepEqual(lastFlag(), FETCH_CUDA, 'the environment variable');
});

test('the old .npmrc line (onnxruntime-node-install=skip) made the CUDA flag do nothing', () => {
  writeFileSync(join(dir, 'project', '.npmrc'), 'onnxruntime-node-install=skip\n');
  try {
    npm(['rebuild', 'flagprobe', '--onnxruntime-node-install-cuda=v12']);
    assert.deepEqual(lastFlag(), SKIP);
  } finally {
    copyFileSync(join(root, '.npmrc'), join(dir, 'project', '.npmrc'));
  }
});
