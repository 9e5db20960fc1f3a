/**
 * Figures for `spacetime-lens sae features` results (docs/sae.md#features): each entity at its true position (space)
 * or year (time), coloured by the activation of the SAE feature that best tracks each coordinate. The result file
 * is read as a further result, so its tables also appear under "Further results".
 */
import type { FigureModel } from './model.js';
import { BASE_CONFIG, SCHEMA, type VlSpec } from './specs.js';
import type { ExtraResult } from './types.js';

const SAE_FEATURES_FORMAT = 'spacetime-lens/sae-features@1';

interface SaeFeaturesFile {
  format: string;
  store: { dataset: string; kind: string; targetNames: string[]; hookName: string };
  groups: { group: string; top: Record<string, { feature: number; spearman: number | null }[]> }[];
  activations: {
    names: string[];
    targets: Record<string, number[]>;
    features: { feature: number; target: string; values: number[] }[];
  };
}

function isSaeFeatures(data: unknown): data is SaeFeaturesFile {
  const d = data as Partial<SaeFeaturesFile> | null;
  return typeof d === 'object' && d?.format === SAE_FEATURES_FORMAT && Array.isArray(d.activations?.features);
}

const colour = (title: string) => ({
  field: 'act',
  type: 'quantitative',
  title,
  scale: { scheme: 'viridis' },
});

/** Rows for one feature, the firing entities last so they draw on top. */
function rows(file: SaeFeaturesFile, values: number[]): Record<string, number | string>[] {
  const { names, targets } = file.activations;
  const out = names.map((name, i) => {
    const row: Record<string, number | string> = { name, act: values[i]! };
    for (const [t, col] of Object.entries(targets)) row[t] = col[i]!;
    return row;
  });
  return out.sort((a, b) => (a['act'] as number) - (b['act'] as number));
}

function spaceSpec(file: SaeFeaturesFile, feature: number, values: number[]): VlSpec {
  const [lon, lat] = file.store.targetNames as [string, string];
  return {
    $schema: SCHEMA,
    width: 760,
    height: 400,
    projection: { type: 'equalEarth' },
    data: { values: rows(file, values) },
    mark: { type: 'circle', size: 10, fillOpacity: 0.8, strokeWidth: 0, aria: false },
    encoding: {
      longitude: { field: lon, type: 'quantitative' },
      latitude: { field: lat, type: 'quantitative' },
      color: colour(`feature ${feature}`),
      tooltip: [
        { field: 'name', title: 'entity' },
        { field: 'act', title: `feature ${feature}`, format: '.3f' },
      ],
    },
    config: BASE_CONFIG,
  };
}

function timeSpec(file: SaeFeaturesFile, feature: number, values: number[]): VlSpec {
  const year = file.store.targetNames[0]!;
  return {
    $schema: SCHEMA,
    width: 560,
    height: 320,
    data: { values: rows(file, values) },
    mark: { type: 'circle', size: 12, fillOpacity: 0.7, strokeWidth: 0, aria: false },
    encoding: {
      x: { field: year, type: 'quantitative', title: year, scale: { zero: false }, axis: { format: 'd' } },
      y: { field: 'act', type: 'quantitative', title: `feature ${feature} activation` },
      color: colour(`feature ${feature}`),
      tooltip: [
        { field: 'name', title: 'entity' },
        { field: 'act', title: `feature ${feature}`, format: '.3f' },
      ],
    },
    config: BASE_CONFIG,
  };
}

/** One figure per (SAE result, feature that best tracks a coordinate), in the maps or the dates section. */
export function saeFeatureFigures(extras: readonly ExtraResult[]): Omit<FigureModel, 'id'>[] {
  const figures: Omit<FigureModel, 'id'>[] = [];
  for (const extra of extras) {
    if (!isSaeFeatures(extra.data)) continue;
    const file = extra.data;
    const space = file.store.kind === 'space' && file.store.targetNames.length >= 2;
    const seen = new Set<number>();
    for (const { feature, target, values } of file.activations.features) {
      if (seen.has(feature)) continue;
      seen.add(feature);
      const rho = file.groups[0]?.top[target]?.find((r) => r.feature === feature)?.spearman;
      figures.push({
        slug: `sae-feature-${feature}-${target}`.replace(/[^A-Za-z0-9-]+/g, '-'),
        title: `SAE feature ${feature}, best for ${target}${rho != null ? ` (ρ = ${rho.toFixed(3)})` : ''}: ${file.store.dataset}, ${file.store.hookName}`,
        description: space
          ? 'Each entity at its true position, coloured by the feature’s activation.'
          : 'Each entity at its true year, by the feature’s activation.',
        section: space ? 'maps' : 'time',
        spec: space ? spaceSpec(file, feature, values) : timeSpec(file, feature, values),
        renderer: 'canvas',
      });
    }
  }
  return figures;
}
