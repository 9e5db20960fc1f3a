import { existsSync } from 'node:fs';
import {
  type Device,
  modelIdentity,
  resolveModelSource,
  type SourceOptions,
  sourceOptions,
} from '../model/index.js';
import { loadRandomInitModel, RANDOM_INIT } from '../model/random-init.js';
import { UserError } from '../util/errors.js';
import type { ExtractionModel } from './batch.js';

/** The manifest's model id: `random-init:<model>` for the random-init twin, else the model itself. */
export function controlModelId(o: { model: string; control?: string }): string {
  const id = modelIdentity(o.model); // a local directory by its absolute path
  return o.control === RANDOM_INIT ? `${RANDOM_INIT}:${id}` : id;
}

/** `extract --control random-init`: the twin built from the model directory's config.json and tokenizer. */
export async function loadControlModel(
  o: {
    model: string;
    control?: string;
    seed?: number;
    device?: Device;
  } & SourceOptions,
): Promise<ExtractionModel> {
  if (o.control !== RANDOM_INIT)
    throw new UserError(`--control: '${o.control}' is not one of ${RANDOM_INIT}`);
  // A Hub id is used from the local cache only (after a real run, or a download of config + tokenizer files).
  const dir = existsSync(o.model)
    ? o.model
    : await resolveModelSource(o.model, { ...sourceOptions(o), offline: true });
  const model = await loadRandomInitModel(dir, {
    seed: o.seed ?? 0,
    ...(o.device ? { device: o.device } : {}),
  });
  return model as unknown as ExtractionModel;
}
