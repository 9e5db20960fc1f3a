/**
 * Peak RSS while extracting all 32 layers (hook_resid_post at the last token) from a random Llama-2-7B-shaped
 * bf16 checkpoint (~13.5 GB on disk; a plain PyTorch f32 load needs ~27 GB). Goal: <= 6 GB.
 *   node --import tsx bench/forward/peak_rss.ts [DIR] [PROMPTS] [LEN]
 * DIR defaults to a temp dir that is generated (make_llama7b_bf16.py) and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/index.js';

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'stl-7b-'));
const prompts = Number(process.argv[3] ?? 32);
const len = Number(process.argv[4] ?? 16);
try {
  if (!existsSync(join(dir, 'config.json'))) {
    const t = performance.now();
    execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'make_llama7b_bf16.py'), dir], {
      stdio: 'inherit',
    });
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  const model = await loadModel(dir);
  const seqs = Array.from({ length: prompts }, (_, i) =>
    Array.from({ length: len }, (_, t) => 1 + ((i * 7919 + t * 104729) % 31999)),
  );
  const hooks = Array.from({ length: model.spec.nLayers }, (_, l) => `blocks.${l}.hook_resid_post`);
  let peakSampled = 0;
  const timer = setInterval(() => (peakSampled = Math.max(peakSampled, process.memoryUsage.rss())), 100);
  const t0 = performance.now();
  const out = await model.run(seqs, {
    hooks,
    positions: seqs.map(() => -1),
    onProgress: (done, total) => process.stderr.write(`\r${done}/${total}`),
  });
  const secs = (performance.now() - t0) / 1000;
  clearInterval(timer);
  await model.dispose();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `\nLlama-2-7B shape bf16, ${model.spec.nLayers} layers, ${prompts}x${len} tokens, ${out.size} hooks kept at the last token: ` +
      `${secs.toFixed(0)} s, peak RSS ${(maxRss / 2 ** 30).toFixed(2)} GiB (sampled ${(peakSampled / 2 ** 30).toFixed(2)} GiB)`,
  );
} finally {
  if (!given) rmSync(dir, { recursive: true, force: true });
}
