/** Metrics as a flat name -> number record (see linear.ts `ScalarMetrics`). */
export type MetricRecord = Record<string, number>;

/** The unweighted mean of each metric over a list (non-finite values are left out of that metric's mean). */
export function meanMetrics(list: MetricRecord[]): MetricRecord {
  const out: MetricRecord = {};
  for (const k of new Set(list.flatMap((m) => Object.keys(m)))) {
    const vals = list
      .map((m) => m[k])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    out[k] = vals.length ? vals.reduce((s, v) => s + v, 0) / vals.length : Number.NaN;
  }
  return out;
}
