/** The globe and log-time probes beside the plain probe (docs/method.md#target-variants). */
import { modelDisplayName } from '../util/paths.js';
import { datasetTitle, type ExpSection, finite, htmlTable } from './experiment-common.js';
import { num } from './followup-common.js';
import type { ReportRun } from './types.js';

/** A run's probe target when not the dataset's own: ' · globe probe', ' · log-time probe', else ''. */
export function targetVariantSuffix(run: ReportRun): string {
  const target = run.results.settings?.['target'];
  return target === 'globe' || target === 'log-time' ? ` · ${target} probe` : '';
}

function bestLayerOf(run: ReportRun) {
  const layers = run.results.layers.filter((l) => finite(l.test.r2));
  return layers.reduce<(typeof layers)[number] | undefined>(
    (b, l) => (!b || l.test.r2 > b.test.r2 ? l : b),
    undefined,
  );
}

export function targetVariantsSection(runs: ReportRun[]): ExpSection | undefined {
  const variants = runs.filter((r) => targetVariantSuffix(r));
  if (!variants.length) return undefined;
  const rows = variants.flatMap((v) => {
    const native = runs.find(
      (r) =>
        !targetVariantSuffix(r) &&
        r.results.model === v.results.model &&
        r.results.dataset === v.results.dataset &&
        r.results.prompt === v.results.prompt &&
        (r.results.hook ?? '') === (v.results.hook ?? ''),
    );
    const line = (run: ReportRun, label: string) => {
      const best = bestLayerOf(run);
      const fit = (best as { fitR2?: { test?: number } } | undefined)?.fitR2?.test;
      return {
        cells: [
          `${modelDisplayName(run.results.model)} · ${datasetTitle(run.results.dataset)} · ${label}`,
          best ? String(best.layer) : '–',
          num(best?.test.r2),
          num(best?.test.proxError),
          run.results.kind === 'space' ? num(best?.test.haversineMaeKm) : num(best?.test.mae),
          num(fit),
        ],
      };
    };
    const plain = v.results.kind === 'space' ? 'longitude, latitude' : 'year';
    return [...(native ? [line(native, plain)] : []), line(v, String(v.results.settings?.['target']))];
  });
  return {
    id: 'target-variants',
    title: 'Globe and log-time probes',
    intro:
      'The same ridge probe fitted on other targets: the 3-D unit vector of each place (predictions projected back onto the sphere; no ±180° seam) and ln(reference year − year) (Li et al. 2025). Both are scored on longitude/latitude and years like the plain probe (their lines in the main figure). R² on longitude and latitude rewards predictions pulled towards the mean, which a point on the sphere is not: compare the km and proximity errors too.',
    tables: [
      htmlTable(
        [
          'model · dataset · target',
          'best layer',
          'test R²',
          'proximity error',
          'mean km / MAE years',
          'R² on fitted target',
        ],
        rows,
        'Best layer of each probe (R², proximity error and errors on lon/lat or years; last column: R² on x, y, z or on the log distance)',
      ),
    ],
    figures: [],
  };
}
