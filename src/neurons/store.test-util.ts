/** Test support: a world_place activation store of one hook, written from per-layer [n, width] rows. */
import { type ActivationStore, createStore, hookName, openStore } from '../store/index.js';

export interface TestEntity {
  entity_type?: string;
  is_test: boolean;
  target: [number, number];
}

/** Writes `layers[l]` ([n · width] row-major) as blocks.{l}.<hook> and opens the store. */
export async function worldPlaceStore(
  dir: string,
  modelId: string,
  hook: string,
  width: number,
  entities: TestEntity[],
  layers: Float32Array[],
): Promise<ActivationStore> {
  const n = entities.length;
  const writer = createStore(
    dir,
    {
      formatVersion: 1,
      model: { id: modelId },
      dataset: {
        name: 'world_place',
        sha256: '0'.repeat(64),
        kind: 'space',
        targetNames: ['longitude', 'latitude'],
      },
      prompt: { name: 'empty' },
      hooks: [hook],
      layers: layers.map((_, l) => l),
      dtype: 'f32',
      n,
      d: width,
      aggregation: 'last',
      toolVersion: 'test',
      createdAt: new Date(0).toISOString(),
    },
    entities.map((e, i) => ({ name: `e${i}`, ...e })),
  );
  for (const [l, rows] of layers.entries()) await writer.write(hookName(l, hook), rows, n, width);
  await writer.finish();
  return openStore(dir);
}
