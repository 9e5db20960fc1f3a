import { join, resolve } from 'node:path';
import { loadDataset } from '../../data/index.js';
import { listPrompts } from '../../data/prompts.js';
import {
  barProgress,
  type ExtractOptions,
  type ExtractResult,
  extract,
  extractStatic,
  isStaticModel,
  logProgress,
  mergeStores,
  type ProgressSink,
  parseAggregation,
  parseDtype,
  parsePositiveInt,
  parseSeed,
  resolveShard,
  type Shard,
  shardOutDir,
} from '../../extract/index.js';
import { controlModelId, loadControlModel } from '../../extract/random-init-route.js';
import { modelSlug, runPipeline } from '../../pipeline/index.js';
import { UserError } from '../../util/errors.js';
import { engineDevice } from '../device.js';
import { keptChunks, repeatCommand, withInterruptNotice } from '../interrupt.js';
import { type SourceFlags, sourceFromFlags } from '../source.js';

/** Raw commander options of `extract` / `run` (strings as typed). */
export interface ExtractFlags extends SourceFlags {
  model: string;
  dataset: string;
  prompt?: string;
  out?: string;
  layers: string;
  hooks: string;
  aggregate: string;
  dtype: string;
  batchSize?: string;
  limit?: string;
  sample?: string;
  seed: string;
  device: string;
  gpuDtype?: string;
  paperCompat?: boolean;
  quiet?: boolean;
  resume?: boolean;
  overwrite?: boolean;
  shard?: string;
  shardCount?: string;
  autoShard?: boolean;
  control?: 'random-init';
  controls?: boolean;
  randomInitControl?: boolean;
}

export function progressFor(quiet: boolean | undefined): ProgressSink {
  return quiet || !process.stderr.isTTY ? logProgress(process.stderr) : barProgress(process.stderr);
}

/** Turns CLI flags into library options (everything validated here, with the flag's name in the message). */
export async function optionsFromFlags(
  flags: ExtractFlags,
  shard: Shard | undefined,
): Promise<Omit<ExtractOptions, 'prompt' | 'out'>> {
  const { device, weightDtype } = await engineDevice(flags);
  return {
    model: flags.model,
    dataset: flags.dataset,
    layers: flags.layers,
    hooks: flags.hooks,
    aggregate: parseAggregation(flags.aggregate),
    dtype: parseDtype(flags.dtype),
    ...(flags.batchSize !== undefined
      ? { batchSize: parsePositiveInt(flags.batchSize, '--batch-size') }
      : {}),
    ...(flags.limit !== undefined ? { limit: parsePositiveInt(flags.limit, '--limit') } : {}),
    ...(flags.sample !== undefined ? { sample: parsePositiveInt(flags.sample, '--sample') } : {}),
    seed: parseSeed(flags.seed),
    device,
    ...(weightDtype ? { weightDtype } : {}),
    ...sourceFromFlags(flags),
    ...(flags.paperCompat ? { paperCompat: true } : {}),
    ...(flags.resume ? { resume: true } : {}),
    ...(flags.overwrite ? { overwrite: true } : {}),
    ...(shard ? { shard } : {}),
    ...(flags.control ? { control: flags.control } : {}),
    progress: progressFor(flags.quiet),
  };
}

function report(result: ExtractResult): void {
  if (result.alreadyDone) return;
  const rate = result.seconds > 0 ? (result.computedRows / result.seconds).toFixed(1) : '-';
  console.log(
    `wrote ${result.store}: ${result.n} entities x ${result.hooks.length} hook-layers x d=${result.d} ` +
      `(${result.computedRows} computed in ${result.seconds.toFixed(1)} s, ${rate} entities/s)`,
  );
}

/** `spacetime-lens extract`. */
export async function extractCli(flags: ExtractFlags): Promise<void> {
  if (!flags.out) throw new UserError('--out is required');
  const out = flags.out;
  let shard: Shard | undefined;
  await withInterruptNotice(
    () =>
      `kept ${keptChunks(shardOutDir(out, shard))} beside ${shardOutDir(out, shard)}; continue with: ` +
      repeatCommand(['--resume']),
    () =>
      extractCommand({ ...flags, out }, (s) => {
        shard = s;
      }),
  );
}

/** The extraction itself; `shardSeen` learns which shard it works on (for the interrupt line). */
async function extractCommand(
  flags: ExtractFlags & { out: string },
  shardSeen: (shard: Shard | undefined) => void,
): Promise<void> {
  const shard = resolveShard({
    ...(flags.shard !== undefined ? { shard: flags.shard } : {}),
    ...(flags.shardCount !== undefined
      ? { shardCount: parsePositiveInt(flags.shardCount, '--shard-count') }
      : {}),
    autoShard: flags.autoShard !== false,
  });
  shardSeen(shard);
  if (shard && shard.source !== '--shard') {
    console.error(`spacetime-lens: shard ${shard.index}/${shard.count} (from ${shard.source})`);
  }
  if (isStaticModel(flags.model)) {
    if (shard) throw new UserError('static embeddings are computed in one go; --shard does not apply');
    const r = await extractStatic({
      model: flags.model,
      dataset: flags.dataset,
      out: flags.out,
      ...(flags.prompt && flags.prompt !== 'all' ? { prompt: flags.prompt } : {}),
      ...(flags.limit ? { limit: parsePositiveInt(flags.limit, '--limit') } : {}),
      ...(flags.sample ? { sample: parsePositiveInt(flags.sample, '--sample') } : {}),
      seed: parseSeed(flags.seed),
      ...(flags.overwrite ? { overwrite: true } : {}),
      source: sourceFromFlags(flags),
    });
    for (const w of r.warnings) console.error(`warning: ${w}`);
    if (flags.model.startsWith('surface:')) {
      console.log(`wrote ${r.out}: ${r.n} entities x d=${r.d} (${r.model}); ${r.uncovered} without any term`);
      return;
    }
    console.log(
      `wrote ${r.out}: ${r.n} entities x d=${r.d} (${r.model}); ${r.uncovered} entities had no known word ` +
        `(zero vectors)${r.uncoveredExamples.length ? `, e.g. ${r.uncoveredExamples.join(', ')}` : ''}; ` +
        `word coverage ${(100 * r.tokenCoverage).toFixed(1)}%`,
    );
    return;
  }
  const base = await optionsFromFlags(flags, shard);
  const prompt = flags.prompt;
  if (!prompt)
    throw new UserError(
      "--prompt is required (a variant name, or 'all'); see `spacetime-lens datasets prompts NAME`",
    );
  if (prompt !== 'all') {
    report(await extract({ ...base, prompt, out: flags.out }));
    return;
  }
  // One model load serves every prompt; each prompt gets its own store under --out.
  const dataset = await loadDataset(flags.dataset);
  const { loadModel } = await import('../../model/index.js');
  const model = base.control
    ? ((await loadControlModel(base)) as unknown as Awaited<ReturnType<typeof loadModel>>)
    : await loadModel(flags.model, {
        device: base.device ?? 'cpu',
        ...(base.weightDtype ? { weightDtype: base.weightDtype } : {}),
        ...sourceFromFlags(base),
      });
  try {
    for (const p of listPrompts(dataset)) {
      report(
        await extract({
          ...base,
          dataset,
          prompt: p.name,
          out: join(flags.out, p.name),
          loadedModel: model as unknown as NonNullable<ExtractOptions['loadedModel']>,
          modelId: controlModelId(base),
        }),
      );
    }
  } finally {
    await model.dispose();
  }
}

/** `spacetime-lens merge`. */
export async function mergeCli(
  stores: string[],
  flags: { out: string; dataset?: string; overwrite?: boolean },
): Promise<void> {
  const result = await mergeStores({
    inputs: stores,
    out: flags.out,
    ...(flags.dataset ? { dataset: flags.dataset } : {}),
    ...(flags.overwrite ? { overwrite: true } : {}),
  });
  console.log(`wrote ${result.store}: ${result.n} entities from ${result.shards} shards`);
}

/** `spacetime-lens run`. */
export async function runCli(flags: ExtractFlags): Promise<void> {
  const base = await optionsFromFlags({ ...flags, resume: true }, undefined);
  const root = resolve(flags.out ?? join('spacetime-lens-runs', modelSlug(flags.model)));
  const result = await withInterruptNotice(
    () =>
      `finished steps and ${keptChunks(root)} are kept under ${root}; ` +
      `run the same command again to continue: ${repeatCommand()}`,
    () =>
      runPipeline({
        ...base,
        ...(flags.prompt ? { prompt: flags.prompt } : {}),
        ...(flags.out ? { out: resolve(flags.out) } : {}),
        ...(flags.controls === false ? { controls: false } : {}),
        ...(flags.randomInitControl ? { randomInitControl: true } : {}),
        log: (line) => console.error(line),
      }),
  );
  console.log(`report: ${result.report}`);
}
