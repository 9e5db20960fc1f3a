/**
 * The causal experiments of a `paper` run (docs/neurons.md#patch, #ablate): on each dataset's canonical store and
 * probe, with the loaded language model, directed patching with its side-effect matrix and the probe-direction
 * ablation, at the probe's best layer with the library defaults. They need a model with weights and a tokenizer
 * (not static: / surface: baselines) and a dataset with readout prompts; otherwise they are skipped with the reason.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HookedModel } from '../model/index.js';
import { runAblation, runPatching, writeCausalResult } from '../neurons/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';

export const CAUSAL_EXPERIMENTS = ['patch', 'ablate'] as const;
export type CausalExperiment = (typeof CAUSAL_EXPERIMENTS)[number];

/** How big a paper run's causal experiments are (the library defaults when absent). */
export interface CausalSizes {
  entities?: number;
  randomDirections?: number;
}

async function newerThan(output: string, inputs: string[]): Promise<boolean> {
  if (!existsSync(output)) return false;
  const t = (await stat(output)).mtimeMs;
  for (const i of inputs) if ((await stat(i)).mtimeMs > t) return false;
  return true;
}

export async function runCausalSteps(
  model: HookedModel,
  store: string,
  probe: string,
  expDir: string,
  options: {
    experiments: readonly CausalExperiment[];
    keyed: boolean;
    seed?: number;
    sizes?: CausalSizes;
    dataset: string;
    log: (line: string) => void;
  },
  result: { ran: string[]; skipped: string[] },
): Promise<void> {
  const opened = await openStore(store);
  const inputs = [join(store, 'manifest.json'), join(probe, 'results.json')];
  for (const name of options.experiments) {
    const label = `${options.dataset}/${name}`;
    if (options.keyed && (await newerThan(join(expDir, `${name}.json`), inputs))) {
      options.log(`experiment ${label}: up to date, skipping`);
      result.skipped.push(label);
      continue;
    }
    options.log(`experiment ${label}`);
    const common = {
      model,
      store: opened,
      probe,
      ...(options.seed !== undefined && { seed: options.seed }),
      ...(options.sizes?.entities !== undefined && { entities: options.sizes.entities }),
      ...(options.sizes?.randomDirections !== undefined && {
        randomDirections: options.sizes.randomDirections,
      }),
      onProgress: options.log,
    };
    try {
      const res = name === 'patch' ? await runPatching(common) : await runAblation(common);
      await writeCausalResult(expDir, res);
      result.ran.push(label);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      options.log(`experiment ${label} skipped: ${err.message}`);
      result.skipped.push(`${label} (${err.message})`);
    }
  }
}
