import { loadRandomInitModel, RANDOM_INIT } from '../model/random-init.js';
import { UserError } from '../util/errors.js';
import type { ExtractionModel } from './batch.js';

/** The manifest's model id: `random-init:<model>` for the random-init twin, else the model itself. */
export function controlModelId(o: { model: string; control?: string }): string {
  return o.control === RANDOM_INIT ? `${RANDOM_INIT}:${o.model}` : o.model;
}

/** `extract --control random-init`: the twin built from the model directory's config.json and tokenizer. */
export async function loadControlModel(o: {
  model: string;
  control?: string;
  seed?: number;
  device?: 'cpu' | 'cuda';
}): Promise<ExtractionModel> {
  if (o.control !== RANDOM_INIT)
    throw new UserError(`--control: '${o.control}' is not one of ${RANDOM_INIT}`);
  const model = await loadRandomInitModel(o.model, {
    seed: o.seed ?? 0,
    ...(o.device ? { device: o.device } : {}),
  });
  return model as unknown as ExtractionModel;
}
