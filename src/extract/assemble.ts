import type { EntityDataset } from '../data/types.js';
import { createStore } from '../store/index.js';
import { VERSION } from '../version.js';
import { paperQuantize } from './quantize.js';
import type { ExtractDtype } from './spec.js';

/** Rows [start, end) of the final store, from a chunk file or a shard store. */
export interface SegmentSource {
  start: number;
  end: number;
  /** [rows, d] values of one store hook. */
  values(hook: string): Promise<Float32Array>;
  tokens(): Promise<{ inputIds: number[][]; positions: number[]; entitySpans: [number, number][] }>;
}

export interface AssembleManifest {
  model: { id: string; configHash?: string; config?: Record<string, unknown> };
  prompt: string;
  promptText?: string;
  layers: number[];
  hookSuffixes: string[];
  aggregation: 'last' | 'mean';
  createdAt: string;
  extra: Record<string, unknown>;
}

export interface AssembleOptions {
  dir: string;
  dataset: EntityDataset;
  segments: SegmentSource[];
  /** Store hook names in file order. */
  hooks: string[];
  d: number;
  rowStart: number;
  rowEnd: number;
  /** int8 = quantise each hook over these rows (docs/method.md#activations), stored dequantised as f32. */
  dtype: ExtractDtype;
  manifest: AssembleManifest;
  overwrite?: boolean;
}

function base64Of(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** One entities.jsonl record: every dataset column, name, split, target, and the audit trail of the input. */
export function entityRecord(
  dataset: EntityDataset,
  row: number,
  tokens: { ids: number[]; position: number; span: [number, number] },
): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  for (const [col, values] of Object.entries(dataset.columns)) {
    // defineProperty: a column named __proto__ must stay a plain field.
    Object.defineProperty(rec, col, {
      value: values[row],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const k = dataset.targetNames.length;
  rec['name'] = dataset.names[row];
  rec['is_test'] = dataset.isTest[row] === 1;
  rec['target'] = Array.from(dataset.targets.subarray(row * k, row * k + k));
  rec['input_ids'] = tokens.ids;
  rec['position'] = tokens.position;
  rec['entity_tokens'] = tokens.span;
  return rec;
}

/**
 * Writes the store for rows [rowStart, rowEnd) from segments that cover them exactly, one hook at a time (memory:
 * one [rows, d] array). Shared by `extract` (segments = chunk files) and `merge` (segments = shard stores), so a
 * merged store and a single-process store are built by the same code and come out byte-identical.
 */
export async function assembleStore(o: AssembleOptions): Promise<void> {
  const rows = o.rowEnd - o.rowStart;
  const segments = [...o.segments].sort((a, b) => a.start - b.start);
  let at = o.rowStart;
  for (const s of segments) {
    if (s.start !== at) throw new Error(`segments do not cover rows ${at}..${s.start} contiguously`);
    at = s.end;
  }
  if (at !== o.rowEnd) throw new Error(`segments end at row ${at}, not ${o.rowEnd}`);

  const entities: Record<string, unknown>[] = [];
  for (const s of segments) {
    const t = await s.tokens();
    for (let i = 0; i < s.end - s.start; i++) {
      entities.push(
        entityRecord(o.dataset, s.start + i, {
          ids: t.inputIds[i]!,
          position: t.positions[i]!,
          span: t.entitySpans[i]!,
        }),
      );
    }
  }

  const quantization: Record<string, { scale: string; zeroPoint: string }> = {};
  const extra = { ...o.manifest.extra };
  if (o.dtype === 'int8') {
    extra['quantization'] = {
      scheme:
        'per-channel affine quint8 over the store rows, after an fp16 cast (docs/method.md#activations)',
      stored: 'dequantised float32 values; scale (float32 LE) and zeroPoint (float64 LE) per hook, base64',
      params: quantization,
    };
  }
  const writer = createStore(
    o.dir,
    {
      formatVersion: 1,
      model: o.manifest.model,
      dataset: {
        name: o.dataset.name,
        sha256: o.dataset.source.sha256,
        kind: o.dataset.kind,
        targetNames: o.dataset.targetNames,
      },
      prompt: {
        name: o.manifest.prompt,
        ...(o.manifest.promptText !== undefined ? { text: o.manifest.promptText } : {}),
      },
      hooks: o.manifest.hookSuffixes,
      layers: o.manifest.layers,
      dtype: o.dtype === 'f16' ? 'f16' : 'f32',
      n: rows,
      d: o.d,
      aggregation: o.manifest.aggregation,
      toolVersion: VERSION,
      createdAt: o.manifest.createdAt,
      extra,
    },
    entities,
    o.overwrite ? { overwrite: true } : {},
  );
  try {
    for (const hook of o.hooks) {
      let data: Float32Array = new Float32Array(rows * o.d);
      for (const s of segments) data.set(await s.values(hook), (s.start - o.rowStart) * o.d);
      if (o.dtype === 'int8') {
        const { values, q } = paperQuantize(data, rows, o.d);
        quantization[hook] = { scale: base64Of(q.scales), zeroPoint: base64Of(q.zeroPoints) };
        data = values;
      }
      await writer.write(hook, data, rows, o.d);
    }
    await writer.finish();
  } catch (err) {
    await writer.abort?.();
    throw err;
  }
}
