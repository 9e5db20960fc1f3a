/**
 * SAELens' on-disk layout (docs/sae.md#layout): a folder with `cfg.json` and `sae_weights.safetensors` holding
 * W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in] (and `threshold` [d_sae] for JumpReLU).
 * We write both the pre-v6 config fields (hook_name, activation_fn_str, activation_fn_kwargs at the top level) and
 * the v6 ones (k, metadata.hook_name), and read either, so Python users load ours and we load theirs.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../formats/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { checkParams, type SaeArchitecture, type SaeParams } from './model.js';

export const SAE_CFG_FILE = 'cfg.json';
export const SAE_WEIGHTS_FILE = 'sae_weights.safetensors';

/** Where the SAE was trained: written into cfg.json so SAELens (and we) know what it reads. */
export interface SaeProvenance {
  hookName?: string;
  hookLayer?: number;
  modelName?: string;
  datasetPath?: string;
}

export interface LoadedSae {
  params: SaeParams;
  provenance: SaeProvenance;
  /** The cfg.json as read. */
  cfg: Record<string, unknown>;
}

function configFor(p: SaeParams, prov: SaeProvenance): Record<string, unknown> {
  const activationFn = p.architecture === 'topk' ? 'topk' : 'relu';
  return {
    architecture: p.architecture,
    d_in: p.dIn,
    d_sae: p.dSae,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: p.applyBDecToInput,
    normalize_activations: 'none',
    reshape_activations: 'none',
    ...(p.architecture === 'topk' ? { k: p.k } : {}),
    activation_fn_str: activationFn,
    activation_fn_kwargs: p.architecture === 'topk' ? { k: p.k } : {},
    hook_name: prov.hookName ?? null,
    hook_layer: prov.hookLayer ?? null,
    hook_head_index: null,
    model_name: prov.modelName ?? null,
    dataset_path: prov.datasetPath ?? null,
    finetuning_scaling_factor: false,
    prepend_bos: true,
    metadata: {
      hook_name: prov.hookName ?? null,
      hook_layer: prov.hookLayer ?? null,
      model_name: prov.modelName ?? null,
      dataset_path: prov.datasetPath ?? null,
      sae_lens_training_version: null,
      trained_with: 'spacetime-lens',
    },
  };
}

/** Writes `dir/cfg.json` and `dir/sae_weights.safetensors`, each atomically. */
export async function saveSae(dir: string, p: SaeParams, prov: SaeProvenance = {}): Promise<void> {
  checkParams(p, dir);
  const f32 = (name: string, shape: number[], data: Float32Array): TensorToWrite => ({
    name,
    dtype: 'F32',
    shape,
    data,
  });
  const tensors = [
    f32('W_enc', [p.dIn, p.dSae], p.wEnc),
    f32('b_enc', [p.dSae], p.bEnc),
    f32('W_dec', [p.dSae, p.dIn], p.wDec),
    f32('b_dec', [p.dIn], p.bDec),
  ];
  if (p.architecture === 'jumprelu') tensors.push(f32('threshold', [p.dSae], p.threshold!));
  await writeFileAtomic(join(dir, SAE_CFG_FILE), `${JSON.stringify(configFor(p, prov), null, 2)}\n`);
  await writeSafetensors(join(dir, SAE_WEIGHTS_FILE), tensors);
}

function architectureOf(cfg: Record<string, unknown>, where: string): SaeArchitecture {
  const arch = cfg['architecture'] ?? 'standard';
  const fn = cfg['activation_fn_str'] ?? cfg['activation_fn'];
  if (arch === 'topk' || (arch === 'standard' && fn === 'topk')) return 'topk';
  if (arch === 'jumprelu') return 'jumprelu';
  if (arch === 'standard') {
    if (fn !== undefined && fn !== 'relu')
      throw new UserError(`${where}: activation '${String(fn)}' is not supported (relu, topk, jumprelu are)`);
    return 'standard';
  }
  throw new UserError(
    `${where}: architecture '${String(arch)}' is not supported (standard, topk, jumprelu are)`,
  );
}

function topkOf(cfg: Record<string, unknown>): number | undefined {
  const kwargs = cfg['activation_fn_kwargs'] as Record<string, unknown> | undefined;
  const k = kwargs?.['k'] ?? cfg['k'];
  return typeof k === 'number' ? k : undefined;
}

function provenanceOf(cfg: Record<string, unknown>): SaeProvenance {
  const meta = (cfg['metadata'] ?? {}) as Record<string, unknown>;
  const pick = (key: string) => cfg[key] ?? meta[key] ?? undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const hookLayer = pick('hook_layer');
  return {
    ...(str(pick('hook_name')) ? { hookName: str(pick('hook_name'))! } : {}),
    ...(typeof hookLayer === 'number' ? { hookLayer } : {}),
    ...(str(pick('model_name')) ? { modelName: str(pick('model_name'))! } : {}),
    ...(str(pick('dataset_path')) ? { datasetPath: str(pick('dataset_path'))! } : {}),
  };
}

/** Loads a SAELens-layout folder (ours or a pretrained release such as Gemma Scope's JumpReLU SAEs). */
export async function loadSae(dir: string): Promise<LoadedSae> {
  const cfgPath = join(dir, SAE_CFG_FILE);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`cannot read the SAE config ${cfgPath}: ${(err as Error).message}`);
  }
  const architecture = architectureOf(cfg, cfgPath);
  const norm = cfg['normalize_activations'];
  if (norm !== undefined && norm !== null && norm !== 'none')
    throw new UserError(`${cfgPath}: normalize_activations '${String(norm)}' is not supported (only 'none')`);
  const file = await SafetensorsFile.open(join(dir, SAE_WEIGHTS_FILE));
  try {
    const wEncInfo = file.info('W_enc');
    if (wEncInfo.shape.length !== 2)
      throw new UserError(`${file.path}: W_enc should be 2-D, it is [${wEncInfo.shape}]`);
    const [dIn, dSae] = wEncInfo.shape as [number, number];
    for (const [key, value] of [
      ['d_in', dIn],
      ['d_sae', dSae],
    ] as const) {
      if (cfg[key] !== undefined && cfg[key] !== value)
        throw new UserError(`${cfgPath}: ${key} is ${String(cfg[key])} but W_enc is [${dIn}, ${dSae}]`);
    }
    const k = topkOf(cfg);
    const params: SaeParams = {
      architecture,
      dIn,
      dSae,
      ...(architecture === 'topk' ? { k: k! } : {}),
      applyBDecToInput: cfg['apply_b_dec_to_input'] !== false,
      wEnc: await file.readFloat32('W_enc'),
      bEnc: await file.readFloat32('b_enc'),
      wDec: await file.readFloat32('W_dec'),
      bDec: await file.readFloat32('b_dec'),
      ...(architecture === 'jumprelu' ? { threshold: await file.readFloat32('threshold') } : {}),
    };
    if (file.info('W_dec').shape.join() !== `${dSae},${dIn}`)
      throw new UserError(
        `${file.path}: W_dec should be [${dSae}, ${dIn}], it is [${file.info('W_dec').shape}]`,
      );
    checkParams(params, dir);
    return { params, provenance: provenanceOf(cfg), cfg };
  } finally {
    await file.close();
  }
}
