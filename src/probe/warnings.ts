/**
 * Warnings for probe results that would mislead if read at face value (docs/method.md#probes): an alpha chosen at the
 * edge of its grid (the LOO optimum may lie outside it), more dimensions than training rows (the probe can fit the
 * training set exactly), and a test set too small for R² and the correlations (MIN_TEST_ROWS).
 */
import { MIN_TEST_ROWS } from './metrics.js';

/** `logspace:A:B:K` text for a grid extended by two decades past the edge that was hit. */
function widerGrid(alphas: number[], edge: 'low' | 'high'): string {
  const lo = Math.log10(Math.min(...alphas));
  const hi = Math.log10(Math.max(...alphas));
  const round = (v: number) => Number(v.toFixed(1));
  const [a, b] = edge === 'low' ? [round(lo) - 2, round(hi)] : [round(lo), round(hi) + 2];
  return `logspace:${a}:${b}:${alphas.length + 6}`;
}

/**
 * A warning when LOO picked the smallest or the largest alpha of a grid of two or more; undefined otherwise
 * (and with --cv none, where nothing was selected).
 */
export function alphaEdgeWarning(alphaIndex: number | null, alphas: number[]): string | undefined {
  if (alphaIndex === null || alphas.length < 2) return undefined;
  const alpha = alphas[alphaIndex]!;
  const isMin = alphas.every((a) => alpha <= a);
  const isMax = alphas.every((a) => alpha >= a);
  if (!isMin && !isMax) return undefined;
  const edge = isMin ? 'low' : 'high';
  return (
    `alpha ${Number(alpha.toPrecision(4))} is the ${isMin ? 'smallest' : 'largest'} value of the grid ` +
    `(${edge} edge): the best penalty may lie ${isMin ? 'below' : 'above'} it; ` +
    `try a wider grid, e.g. --alphas ${widerGrid(alphas, edge)}`
  );
}

/** Warnings about the whole run: dimensions against training rows, and the size of the test set. */
export function sizeWarnings(d: number, nTrain: number, nTest: number): string[] {
  const out: string[] = [];
  if (d >= nTrain) {
    out.push(
      `d = ${d} >= ${nTrain} training rows: the probe can fit the training rows exactly, so train R² says little ` +
        'and the alpha choice carries the result; read the test metrics',
    );
  }
  if (nTest < MIN_TEST_ROWS) {
    out.push(
      `${nTest === 0 ? 'no' : `only ${nTest}`} test row${nTest === 1 ? '' : 's'} (fewer than ${MIN_TEST_ROWS}): ` +
        'test R², Spearman, Pearson and proximity error are undefined (null) and no best layer is named',
    );
  }
  return out;
}

/** Every warning of a results object as lines: the run's own, then each layer's, prefixed with the layer. */
export function allWarnings(results: {
  warnings?: string[];
  layers: { layer: number; warnings?: string[] }[];
}): string[] {
  return [
    ...(results.warnings ?? []),
    ...results.layers.flatMap((l) => (l.warnings ?? []).map((w) => `layer ${l.layer}: ${w}`)),
  ];
}
