// Public surface of the store stage: the activation store (manifest.json + entities.jsonl + one safetensors file
// per (hook, layer)), its reader, writer and layer-file helpers. Layout: docs/store.md.

export { HOOK_ALIASES, hookName, parseHooks, parseLayers } from './hooks.js';
export type { ImportArray, ImportOptions, ImportResult } from './import.js';
export { hookSuffix, importActivations, readActivationArray } from './import.js';
export type { StoreEntity, StoreManifest, StoreManifestInput } from './manifest.js';
export {
  ENTITIES_FILE,
  layerFileName,
  MANIFEST_FILE,
  parseManifest,
  STORE_FORMAT_VERSION,
} from './manifest.js';
export type { ActivationStore, CreateStoreOptions, StoreWriter } from './store.js';
export { createStore, entitiesFromDataset, openStore, readLayerFile, writeLayerFile } from './store.js';
