/** The activation store's manifest: types, names and validation. */
import { UserError } from '../util/errors.js';

export const STORE_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const ENTITIES_FILE = 'entities.jsonl';

export interface StoreManifest {
  formatVersion: 1;
  /** config: the config.json fields that say which model it is (src/model/paper-models.ts), when recorded. */
  model: { id: string; configHash?: string; config?: Record<string, unknown> };
  dataset: { name: string; sha256: string; kind: 'space' | 'time'; targetNames: string[] };
  prompt: { name: string; text?: string };
  /** Hook suffixes stored per layer, e.g. ['hook_resid_post'] (TransformerLens names). */
  hooks: string[];
  layers: number[];
  /** Storage precision of the layer files; readers always get f32. */
  dtype: 'f32' | 'f16';
  /** Entities (rows of every layer file, in dataset order). */
  n: number;
  /** Width of each activation vector. */
  d: number;
  /** How token activations became one vector per entity: the entity's last token, or the mean over its tokens. */
  aggregation: 'last' | 'mean';
  toolVersion: string;
  /** ISO 8601 time the store was created. */
  createdAt: string;
  /** Full hook name (`blocks.12.hook_resid_post`) -> file name inside the store directory. */
  files: Record<string, string>;
  extra?: Record<string, unknown>;
}

/** What createStore needs: the manifest without `files` (built from the layers written). */
export type StoreManifestInput = Omit<StoreManifest, 'files'>;

/** One row of entities.jsonl: every dataset column, plus these fields. */
export interface StoreEntity {
  name: string;
  is_test: boolean;
  /** The targets in manifest.dataset.targetNames order. */
  target: number[];
  /** Token ids fed to the model (when extracted from a model). */
  input_ids?: number[];
  /** Token position whose activation was kept (when extracted from a model). */
  position?: number;
  [column: string]: unknown;
}

/** The file that holds a hook's `[n, d]` tensor inside a store (the hook name + `.safetensors`). */
export function layerFileName(hook: string): string {
  checkHookName(hook);
  return `${hook}.safetensors`;
}

/** Hook names become file names: keep them to safe characters, no path components. */
export function checkHookName(hook: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(hook) || hook.includes('..')) {
    throw new UserError(`invalid hook name '${hook}' (letters, digits, '_', '.', '-' only)`);
  }
}

type Check = (ok: unknown, what: string) => void;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Validates everything in a manifest but `files`; `check` raises the caller's error type. */
function checkInput(m: Record<string, unknown>, check: Check): void {
  check(m['formatVersion'] === STORE_FORMAT_VERSION, 'formatVersion');
  const model = m['model'];
  check(isObject(model) && typeof model['id'] === 'string' && model['id'] !== '', 'model.id');
  if (isObject(model) && model['configHash'] !== undefined)
    check(typeof model['configHash'] === 'string', 'model.configHash');
  if (isObject(model) && model['config'] !== undefined) check(isObject(model['config']), 'model.config');
  const ds = m['dataset'];
  check(isObject(ds), 'dataset');
  if (isObject(ds)) {
    check(typeof ds['name'] === 'string' && ds['name'] !== '', 'dataset.name');
    check(typeof ds['sha256'] === 'string', 'dataset.sha256');
    check(ds['kind'] === 'space' || ds['kind'] === 'time', 'dataset.kind');
    check(isStringArray(ds['targetNames']) && ds['targetNames'].length > 0, 'dataset.targetNames');
  }
  const prompt = m['prompt'];
  check(isObject(prompt) && typeof prompt['name'] === 'string', 'prompt.name');
  if (isObject(prompt) && prompt['text'] !== undefined)
    check(typeof prompt['text'] === 'string', 'prompt.text');
  check(isStringArray(m['hooks']), 'hooks');
  check(Array.isArray(m['layers']) && m['layers'].every((l) => Number.isSafeInteger(l) && l >= 0), 'layers');
  check(m['dtype'] === 'f32' || m['dtype'] === 'f16', 'dtype');
  check(isCount(m['n']), 'n');
  check(isCount(m['d']), 'd');
  check(m['aggregation'] === 'last' || m['aggregation'] === 'mean', 'aggregation');
  check(typeof m['toolVersion'] === 'string', 'toolVersion');
  check(typeof m['createdAt'] === 'string', 'createdAt');
  if (m['extra'] !== undefined) check(isObject(m['extra']), 'extra');
}

/** Checks a manifest handed to createStore (a programming error if wrong, hence TypeError). */
export function checkManifestInput(m: StoreManifestInput): void {
  checkInput(m as unknown as Record<string, unknown>, (ok, what) => {
    if (!ok) throw new TypeError(`createStore: manifest field '${what}' is missing or invalid`);
  });
}

/** Parses and validates a manifest.json read from disk; every problem is a UserError naming the file. */
export function parseManifest(text: string, path: string): StoreManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(m)) throw new UserError(`${path} is not a JSON object`);
  if (m['formatVersion'] !== STORE_FORMAT_VERSION) {
    throw new UserError(
      `${path} has store format version ${JSON.stringify(m['formatVersion'])}; this spacetime-lens reads version ${STORE_FORMAT_VERSION}`,
    );
  }
  checkInput(m, (ok, what) => {
    if (!ok) throw new UserError(`${path}: field '${what}' is missing or invalid`);
  });
  const files = m['files'];
  if (!isObject(files) || Object.keys(files).length === 0) {
    throw new UserError(`${path}: field 'files' must map hook names to layer files`);
  }
  for (const [hook, file] of Object.entries(files)) {
    if (typeof file !== 'string' || file !== layerFileNameOrNull(hook)) {
      throw new UserError(
        `${path}: files['${hook}'] must be '${hook}.safetensors', got ${JSON.stringify(file)}`,
      );
    }
  }
  return m as unknown as StoreManifest;
}

function layerFileNameOrNull(hook: string): string | null {
  try {
    return layerFileName(hook);
  } catch {
    return null;
  }
}
