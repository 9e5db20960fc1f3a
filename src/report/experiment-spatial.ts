/** Moran's I of units and LISA maps of the top ones (docs/experiments.md#spatial). */
import type { UnitMap } from '../experiments/index.js';
import { modelDisplayName } from '../util/paths.js';
import {
  type Cell,
  datasetTitle,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  finite,
  htmlTable,
  MAIN,
} from './experiment-common.js';
import { mapKindOf, num, ofExperiment } from './followup-common.js';
import { BASE_CONFIG, mapFrame, OUTLINE_MARK, outlineData, SCHEMA } from './specs.js';
import type { GeoJsonCollection } from './types.js';

type Row = Record<string, Cell>;

const LISA_DOMAIN = ['high-high', 'low-low', 'low-high', 'high-low', 'not significant'];
const LISA_RANGE = ['#d7191c', '#2c7bb6', '#abd9e9', '#fdae61', '#d9d9d9'];
const QUADRANT = ['', 'high-high', 'low-high', 'low-low', 'high-low'];
const SOURCE_NAMES: Record<string, string> = {
  neurons: 'neuron',
  residual: 'residual dim',
  sae: 'SAE feature',
};

function spatialMaps(doc: ExperimentDoc, nycOutlines?: GeoJsonCollection): ExpFigure | undefined {
  const maps = (doc.figures?.['maps'] as UnitMap[] | undefined)?.slice(0, 12);
  if (!maps?.length) return undefined;
  const kind = mapKindOf(doc.dataset);
  const outline = outlineData(kind, nycOutlines);
  const projection = mapFrame(kind, nycOutlines).projection;
  const points = maps.flatMap((m, index) =>
    m.points.map((p) => ({
      panel: index,
      lon: p[0],
      lat: p[1],
      value: p[2],
      cluster: p[4] ? QUADRANT[p[3]]! : 'not significant',
    })),
  );
  const cell = (m: UnitMap, index: number) => ({
    title: {
      text: `${SOURCE_NAMES[m.source] ?? m.source} ${m.unit} · I = ${m.I.toFixed(2)} · p = ${Number(m.pSim.toPrecision(2))}`,
      fontSize: 11,
    },
    width: 266,
    height: kind === 'nyc' ? 230 : kind === 'us' ? 160 : 135,
    projection,
    layer: [
      ...(outline ? [{ data: outline.data, mark: { ...OUTLINE_MARK, strokeWidth: 0.4, clip: true } }] : []),
      {
        name: `${MAIN}_${index}`,
        data: { name: 'points' },
        transform: [{ filter: { field: 'panel', equal: index } }],
        mark: { type: 'circle', size: 6, opacity: 0.8, clip: true },
        encoding: {
          longitude: { field: 'lon', type: 'quantitative' },
          latitude: { field: 'lat', type: 'quantitative' },
          color: {
            field: 'cluster',
            type: 'nominal',
            title: 'LISA cluster (p ≤ 0.05)',
            scale: { domain: LISA_DOMAIN, range: LISA_RANGE },
          },
          order: { field: 'cluster', sort: 'descending' },
          tooltip: [{ field: 'cluster' }, { field: 'value', title: 'activation' }],
        },
      },
    ],
  });
  return {
    slug: `spatial-lisa-${doc.dataset}`,
    title: `Most spatially organised units: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)}, layer ${doc.layer})`,
    caption:
      "Each panel is one unit, ranked by Moran's I (k-NN on the sphere); places are coloured by their local Moran (LISA) cluster. Look for large red (high-high) and blue (low-low) patches: a unit that is on over one region and off over another. Grey places are not significant at p ≤ 0.05.",
    spec: {
      $schema: SCHEMA,
      datasets: { points, ...outline?.datasets },
      concat: maps.map(cell),
      columns: 4,
      spacing: 10,
      config: {
        ...BASE_CONFIG,
        view: { stroke: '#dde1e6' },
        legend: { ...BASE_CONFIG.legend, orient: 'top', direction: 'horizontal' },
      },
    },
    marks: points.length,
  };
}

export function spatialSection(
  docs: ExperimentDoc[],
  nycOutlines?: GeoJsonCollection,
): ExpSection | undefined {
  const list = ofExperiment(docs, 'spatial');
  if (!list.length) return undefined;
  const rows = list.flatMap((doc) => {
    const sources = (doc.tables?.['sources']?.rows ?? []) as Row[];
    return doc.table
      .filter((r) => finite(r['rank']) && (r['rank'] as number) <= 5)
      .map((r) => {
        const s = sources.find((x) => x['source'] === r['source']);
        return {
          cells: [
            `${modelDisplayName(doc.model)} · ${datasetTitle(doc.dataset)} · layer ${doc.layer} · ${SOURCE_NAMES[String(r['source'])] ?? r['source']} ${r['unit']}`,
            num(r['moran_i']),
            num(r['z_rand']),
            finite(r['p_sim']) ? String(Number((r['p_sim'] as number).toPrecision(2))) : '–',
            s ? `${s['bonferroni_significant']} of ${s['units']}` : '–',
          ],
        };
      });
  });
  const table = htmlTable(
    ['unit', "Moran's I", 'z (randomisation)', 'permutation p', 'units significant (Bonferroni)'],
    rows,
    "Top units by Moran's I per model, dataset and unit kind",
  );
  return {
    id: 'spatial',
    title: 'Spatial autocorrelation of neurons and features',
    intro:
      "Moran's I asks whether a unit's activation is similar at neighbouring places (I near 1) or unrelated to place (I near 0), without assuming any linear code of latitude and longitude.",
    tables: [table],
    figures: list.map((d) => spatialMaps(d, nycOutlines)).filter((f): f is ExpFigure => f !== undefined),
  };
}
