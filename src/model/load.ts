/** loadModel: a local checkpoint directory or a Hub id -> a HookedModel. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { modelSpec } from './architectures/index.js';
import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { type EngineOptions, HookedModel } from './hooked-model.js';
import { type ResolveOptions, resolveModelSource } from './hub.js';
import { type LoadTokenizerOptions, loadTokenizer, type ModelTokenizer } from './tokenizer.js';

/** Engine options plus how to find the model (local directory, or Hub id with revision/cache/offline). */
export interface LoadModelOptions extends EngineOptions, ResolveOptions {
  /** BOS rule override passed to the tokenizer. */
  bos?: LoadTokenizerOptions['bos'];
}

/** Opens the checkpoint (lazily: headers only) and its tokenizer, if it has one. */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<HookedModel> {
  const dir = await resolveSource(source, options);
  const checkpoint = await openCheckpoint(dir);
  try {
    const spec = modelSpec(checkpoint.config, (name) => checkpoint.has(name));
    const tokenizer: ModelTokenizer | undefined = existsSync(join(dir, 'tokenizer.json'))
      ? await loadTokenizer(dir, options.bos !== undefined ? { bos: options.bos } : {})
      : undefined;
    return new HookedModel(spec, checkpoint, tokenizer, options);
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
}

/** Opens a checkpoint and normalises its config without building anything (for `model info`). */
export async function inspectCheckpoint(source: string, options: LoadModelOptions = {}) {
  const dir = await resolveSource(source, options);
  const checkpoint: Checkpoint = await openCheckpoint(dir);
  try {
    return { dir, checkpoint, spec: modelSpec(checkpoint.config, (name) => checkpoint.has(name)) };
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
}

async function resolveSource(source: string, options: LoadModelOptions): Promise<string> {
  const {
    device: _d,
    threads: _t,
    weightCacheBytes: _w,
    chunkBytes: _c,
    bos: _b,
    weightDtype: _f,
    resident: _r,
    spinning: _s,
    ...hub
  } = options;
  return resolveModelSource(source, hub);
}
