/** An activation store seen as a source of per-layer `LayerData` (entities read once, layers on demand). */
import { DATASETS } from '../data/index.js';
import { type ModelRef, type PaperSize, paperModelSize } from '../model/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { hashJson } from '../util/hash.js';
import { fullHookName, type LayerData } from './layer-data.js';

export interface LayerSource {
  dir: string;
  modelId: string;
  /** The manifest's model (id, and config.json shape fields when recorded). */
  model: ModelRef;
  /** Llama-2 7B/13B/70B when the store is one's (src/model/paper-models.ts); absent otherwise. */
  paperSize?: PaperSize;
  dataset: string;
  datasetSha: string;
  prompt: string;
  kind: 'space' | 'time';
  targetNames: string[];
  n: number;
  d: number;
  /** Hook suffix, e.g. 'hook_resid_post'. */
  hook: string;
  /** SHA-256 of the store's cache key (manifest extra.cacheKey), as probe results.json records it; absent when none. */
  storeKeySha256?: string;
  /** Layers the store holds for this hook. */
  layers: number[];
  /** Layers of the model (from the manifest's extra.model.numLayers when recorded, else max stored layer + 1). */
  nLayers: number;
  blockColumn?: string;
  entityTypeColumn?: string;
  columnNames: string[];
  load(layer: number): Promise<LayerData>;
}

const NOT_COLUMNS = new Set(['target', 'input_ids', 'position', 'is_test']);

export async function openLayerSource(dir: string, hook = 'resid_post'): Promise<LayerSource> {
  const store = await openStore(dir);
  const m = store.manifest;
  const suffix = fullHookName(hook, 0).replace(/^blocks\.0\./, '');
  const layers = [...m.layers]
    .filter((l) => store.hookNames.includes(`blocks.${l}.${suffix}`))
    .sort((a, b) => a - b);
  if (layers.length === 0) {
    throw new UserError(`store ${store.dir} has no '${suffix}' layers (hooks: ${m.hooks.join(', ')})`);
  }
  const entities = await store.entities();
  const columnNames = Object.keys(entities[0] ?? {}).filter((k) => !NOT_COLUMNS.has(k));
  const columns: Record<string, string[]> = {};
  for (const c of columnNames) columns[c] = entities.map((e) => cellString(e[c]));
  const names = entities.map((e) => String(e.name));
  const targets = store.targets();
  const isTest = store.isTest();
  const paper = DATASETS[m.dataset.name];
  const paperSize = paperModelSize(m.model, m.d);
  const extraModel = (m.extra?.['model'] ?? {}) as Record<string, unknown>;
  const recordedLayers = Number(extraModel['numLayers'] ?? extraModel['nLayers'] ?? m.extra?.['numLayers']);
  const nLayers =
    Number.isSafeInteger(recordedLayers) && recordedLayers > 0
      ? recordedLayers
      : layers[layers.length - 1]! + 1;
  const blockColumn = paper?.blockColumn ?? (m.dataset.name === 'world_cities' ? 'country' : undefined);
  const entityTypeColumn = paper?.entityTypeColumn;
  return {
    dir: store.dir,
    modelId: m.model.id,
    model: m.model,
    ...(paperSize && { paperSize }),
    dataset: m.dataset.name,
    datasetSha: m.dataset.sha256,
    prompt: m.prompt.name,
    kind: m.dataset.kind,
    targetNames: m.dataset.targetNames,
    n: m.n,
    d: m.d,
    hook: suffix,
    ...(m.extra?.['cacheKey'] !== undefined && { storeKeySha256: hashJson(m.extra['cacheKey']) }),
    layers,
    nLayers,
    ...(blockColumn && { blockColumn }),
    ...(entityTypeColumn && { entityTypeColumn }),
    columnNames,
    load: async (layer: number): Promise<LayerData> => {
      if (!layers.includes(layer)) {
        throw new UserError(`layer ${layer} is not in store ${store.dir} (layers: ${layers.join(',')})`);
      }
      const x = await store.read(`blocks.${layer}.${suffix}`);
      checkFinite(x, m.d, layer, store.dir);
      return {
        model: m.model.id,
        dataset: m.dataset.name,
        prompt: m.prompt.name,
        hook: suffix,
        layer,
        kind: m.dataset.kind,
        targetNames: m.dataset.targetNames,
        n: m.n,
        d: m.d,
        t: m.dataset.targetNames.length,
        x,
        targets,
        isTest,
        names,
        columns,
      };
    },
  };
}

function cellString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function checkFinite(x: Float32Array, d: number, layer: number, dir: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) {
      throw new UserError(
        `store ${dir}: layer ${layer} has a non-finite activation at row ${Math.floor(i / d)}`,
      );
    }
  }
}
