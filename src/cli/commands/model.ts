import type { Command } from 'commander';
import { formatModelInfo, modelInfo } from '../../model/info.js';
import { inspectCheckpoint, loadModel } from '../../model/load.js';
import { UserError } from '../../util/errors.js';
import { type DeviceFlags, deviceOption, engineDevice, gpuDtypeOption } from '../device.js';
import { addSourceOptions, type SourceFlags, sourceFromFlags } from '../source.js';

/** Registers `model info` and `model generate`. */
export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description('inspect and run language-model checkpoints (a local Hugging Face directory or a Hub id)');

  addSourceOptions(
    model
      .command('info')
      .description(
        'architecture, sizes, parameter count, weight dtype and estimated peak memory for extraction',
      )
      .argument('<model>', 'checkpoint directory, or Hub id like EleutherAI/pythia-160m[@revision]'),
  )
    .option('--batch-size <n>', 'prompts per extraction chunk, for the memory estimate', '128')
    .option('--seq-len <n>', 'padded prompt length, for the memory estimate', '32')
    .option('--json', 'print JSON')
    .action(
      async (source: string, flags: SourceFlags & { batchSize: string; seqLen: string; json?: boolean }) => {
        const batch = positive(flags.batchSize, '--batch-size');
        const len = positive(flags.seqLen, '--seq-len');
        const { dir, checkpoint, spec } = await inspectCheckpoint(source, sourceFromFlags(flags));
        try {
          const info = modelInfo(dir, checkpoint, spec, { chunkTokens: batch * len });
          console.log(flags.json ? JSON.stringify(info, null, 2) : formatModelInfo(info));
        } finally {
          await checkpoint.close();
        }
      },
    );

  addSourceOptions(
    model
      .command('generate')
      .description('greedy completion of a prompt (a quick check that a model runs as expected)')
      .argument('<model>', 'checkpoint directory, or Hub id')
      .requiredOption('--prompt <text>', 'text to complete')
      .option('--max-new-tokens <n>', 'tokens to generate', '20')
      .option('--no-bos', 'do not prepend the BOS token')
      .addOption(deviceOption())
      .addOption(gpuDtypeOption()),
  ).action(
    async (
      source: string,
      flags: SourceFlags & { prompt: string; maxNewTokens: string; bos: boolean } & DeviceFlags,
    ) => {
      const m = await loadModel(source, { ...sourceFromFlags(flags), ...(await engineDevice(flags)) });
      try {
        const tok = m.tokenizer;
        if (!tok) throw new UserError(`${source} has no tokenizer.json`);
        const ids = tok.encode(flags.prompt).ids;
        if (flags.bos && tok.bosId !== undefined) ids.unshift(tok.bosId);
        const out = await m.generate(ids, {
          maxNewTokens: positive(flags.maxNewTokens, '--max-new-tokens'),
          eosId: tok.eosId,
        });
        console.log(flags.prompt + tok.decode(out));
      } finally {
        await m.dispose();
      }
    },
  );
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UserError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}
