// `doctor` against the local Hub server and a throwaway HF_HOME: the cache it reports is the one a run uses, its
// size is the blobs' bytes, the token's source is named and the token never printed, and --model says what a
// download would need (counted by hand from the files the server holds).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalHub, sha1 } from '../model/hub-server.test-util.js';
import { resolveModelSource } from '../model/index.js';
import { packageRoot } from '../util/paths.js';
import { type DoctorReport, formatDoctor } from './commands/doctor.js';
import { runCliCaptured } from './testing.js';

const hub = new LocalHub();
const COMMIT = sha1(Buffer.from('doctor'));
const fixtures = join(packageRoot(), 'test', 'fixtures', 'loading');
const files = {
  'config.json': Buffer.from('{"model_type":"gpt2","n_layer":1}'),
  'tokenizer.json': readFileSync(join(fixtures, 'tiny-gpt2', 'tokenizer.json')),
  'model.safetensors': readFileSync(join(fixtures, 'checkpoints', 'f32', 'model.safetensors')),
  'README.md': Buffer.from('not needed'),
};
const needed =
  files['config.json'].length + files['tokenizer.json'].length + files['model.safetensors'].length;
let tmp: string;
const saved = { ...process.env };

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-doctor-'));
  hub.addCommit(COMMIT, files);
  hub.repos['org/tiny'] = { refs: { main: COMMIT } };
  await hub.start();
  mkdirSync(join(tmp, 'hf'), { recursive: true });
  writeFileSync(join(tmp, 'hf', 'token'), 'hf_secret_value\n');
  Object.assign(process.env, {
    HF_HOME: join(tmp, 'hf'),
    HF_ENDPOINT: hub.hubUrl,
    SPACETIME_LENS_CACHE: join(tmp, 'stl'),
  });
  for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE'])
    delete process.env[k];
});
after(async () => {
  process.env = saved;
  await hub.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('doctor --json: cache, token source (never the token), and what --model would download', async () => {
  const r1 = await runCliCaptured(['doctor', '--json', '--model', 'org/tiny']);
  assert.equal(r1.code, 0, r1.err);
  assert.ok(!r1.out.includes('hf_secret_value'));
  const before = JSON.parse(r1.out) as DoctorReport;
  assert.equal(before.huggingFace.cache, join(tmp, 'hf', 'hub'));
  assert.equal(before.huggingFace.token, `found (${join(tmp, 'hf', 'token')})`);
  assert.equal(before.model?.download, needed);
  assert.equal(before.model?.enough, true);
  assert.ok(before.onnxruntime.providers.some((p) => p.name === 'cpu'));
  assert.ok(before.disk.free! > 0);

  await resolveModelSource('org/tiny', { onWarning: () => {} });
  const r2 = await runCliCaptured(['doctor', '--model', 'org/tiny']);
  assert.equal(r2.code, 0, r2.err);
  assert.ok(!r2.out.includes('hf_secret_value'));
  assert.match(r2.out, /^ {2}token: found \(.*hf\/token\)$/m);
  assert.match(r2.out, /^ {2}--device cuda: /m);
  assert.match(r2.out, /^ {2}--device webgpu: /m);
  assert.match(r2.out, new RegExp(`cache: .*hf/hub \\(1 repositories, ${(needed / 1024).toFixed(1)} KiB\\)`));
  assert.match(r2.out, /^model org\/tiny: cached, complete: .*models--org--tiny\/snapshots\//m);
});

test('formatDoctor says when the disk is too small for the download', () => {
  const report = {
    system: { spacetimeLens: '0', node: 'v20', platform: 'linux/x64', cpus: 2, memory: 2 ** 30 },
    onnxruntime: { version: '1.30.0', providers: [{ name: 'cpu', bundled: true }] },
    cuda: { providerFiles: '/x', missingProviderFiles: [], libraries: [], probe: 'works' },
    webgpu: { probe: 'no adapter' },
    huggingFace: { cache: '/c', cacheExists: false, endpoint: 'e', offline: false, token: 'none' },
    disk: { path: '/c', free: 10 },
    model: {
      source: 'org/big',
      status: 'commit abc: 3 files, 13.0 GiB to download',
      download: 13 * 2 ** 30,
      enough: false,
    },
  } satisfies DoctorReport;
  assert.match(
    formatDoctor(report),
    /^model org\/big: commit abc: 3 files, 13\.0 GiB to download; NOT ENOUGH free disk for it$/m,
  );
});
