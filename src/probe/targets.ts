/**
 * What a probe is fitted on, when not the dataset's own targets (docs/method.md#target-variants):
 *
 * - `globe` (space): the 3-D unit vector (x, y, z) = (cos φ cos λ, cos φ sin λ, sin φ) of each place instead of
 *   (λ, φ) = (longitude, latitude). The ridge fits the three coordinates; a prediction is projected back onto the
 *   sphere (divided by its length) and read as (longitude, latitude), so every metric is the usual one and the
 *   great-circle km are the true distance. On the sphere there is no ±180° seam: two places either side of the
 *   antimeridian are neighbours in (x, y, z), while a (lon, lat) regression must put them 360° apart.
 * - `log-time` (time; Li et al. 2025): ln(R − year), the log distance to a reference year R later than every date,
 *   instead of the year. A prediction f is read back as the year R − e^f, so its metrics compare with the linear
 *   probe's; the R² on ln(R − year) itself is reported beside them.
 */
import { calendarYearOffset, timeTargetUnit } from '../data/registry.js';
import { UserError } from '../util/errors.js';
import { unitVectors } from './proximity.js';

export type TargetVariant = 'native' | 'globe' | 'log-time';
export const TARGET_VARIANTS: readonly TargetVariant[] = ['native', 'globe', 'log-time'];

/** The year Li et al.'s models anchor near (the present of their training data); every date must be earlier. */
export const DEFAULT_REFERENCE_YEAR = 2025;

export interface TargetTransform {
  variant: Exclude<TargetVariant, 'native'>;
  /** Names of the fitted columns. */
  fitNames: string[];
  /** log-time: R, as a calendar year. */
  referenceYear?: number;
  /** Dataset targets (n × t) to the fitted ones (n × fitNames.length). */
  forward(targets: Float64Array, n: number): Float64Array;
  /** Fitted-scale predictions back to dataset units (n × t). */
  back(pred: Float64Array, n: number): Float64Array;
}

const DEG = 180 / Math.PI;

/** (x, y, z) rows -> (longitude, latitude) of their direction; the zero vector reads as (0, 0). */
export function lonLatOfVectors(xyz: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const x = xyz[3 * i]!;
    const y = xyz[3 * i + 1]!;
    const z = xyz[3 * i + 2]!;
    out[2 * i] = Math.atan2(y, x) * DEG;
    out[2 * i + 1] = Math.atan2(z, Math.hypot(x, y)) * DEG;
  }
  return out;
}

/**
 * The transform for a variant, or undefined for `native`. `dataset` decides the time unit (years since 1970 for
 * dates, else calendar years; src/data timeTargetUnit).
 */
export function targetTransform(
  variant: TargetVariant,
  kind: 'space' | 'time',
  dataset: string,
  options: { referenceYear?: number; targetUnit?: string } = {},
): TargetTransform | undefined {
  if (variant === 'native') return undefined;
  if (variant === 'globe') {
    if (kind !== 'space') throw new UserError('--target globe needs a space dataset (longitude, latitude)');
    return {
      variant,
      fitNames: ['x', 'y', 'z'],
      forward: (targets, n) => unitVectors(targets, n, 'haversine'),
      back: lonLatOfVectors,
    };
  }
  if (kind !== 'time') throw new UserError('--target log-time needs a time dataset');
  const reference = options.referenceYear ?? DEFAULT_REFERENCE_YEAR;
  if (!Number.isFinite(reference)) throw new UserError(`--reference-year must be a number, got ${reference}`);
  const offset = calendarYearOffset(timeTargetUnit(dataset, options.targetUnit));
  return {
    variant,
    fitNames: [`log_years_before_${reference}`],
    referenceYear: reference,
    forward: (targets, n) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const gap = reference - (targets[i]! + offset);
        if (!(gap > 0)) {
          throw new UserError(
            `--target log-time: row ${i} is in ${(targets[i]! + offset).toFixed(2)}, not before the reference year ` +
              `${reference}; pass a later --reference-year`,
          );
        }
        out[i] = Math.log(gap);
      }
      return out;
    },
    // e^f is capped at e^700 so a wild prediction stays a (huge) finite year instead of −Infinity.
    back: (pred, n) =>
      Float64Array.from({ length: n }, (_, i) => reference - Math.exp(Math.min(pred[i]!, 700)) - offset),
  };
}
