/**
 * Ridge penalty grids (docs/method.md#probes, #mlp, #paper-compat). The paper's grids are 12 log-spaced values; the project default
 * stretches the 7B grid with the model width so that other models get a comparable range.
 */
import { type ModelRef, paperModelSize } from '../model/index.js';
import { UserError } from '../util/errors.js';

/** numpy.logspace(start, stop, num): 10 ** linspace(start, stop, num), the last point exactly 10 ** stop. */
export function logspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [10 ** start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => 10 ** (i === num - 1 ? stop : start + i * step));
}

/** The named grids. `default` depends on d_model (the width-scaled 7B grid of docs/method.md#paper-compat). */
export const ALPHA_PRESETS: Readonly<Record<string, { describe: string; grid: (d: number) => number[] }>> = {
  'llama-2-7b': {
    describe: 'logspace(0.8, 4.1, 12), the paper\u2019s 7B grid',
    grid: () => logspace(0.8, 4.1, 12),
  },
  'llama-2-13b': {
    describe: 'logspace(0.8, 4.3, 12), the paper\u2019s 13B grid',
    grid: () => logspace(0.8, 4.3, 12),
  },
  'llama-2-70b': {
    describe: 'logspace(0.8, 4.5, 12), the paper\u2019s 70B grid',
    grid: () => logspace(0.8, 4.5, 12),
  },
  'mlp-baseline': {
    describe: 'logspace(3, 4.5, 12), the linear baseline of the MLP-probe experiment',
    grid: () => logspace(3, 4.5, 12),
  },
  surface: {
    describe:
      'logspace(-2, 3.5, 12), for surface-form baselines (unit-norm TF-IDF rows, small counts; docs/controls.md)',
    grid: () => logspace(-2, 3.5, 12),
  },
  default: {
    describe: 'logspace(0.8, 4.1 + log10(d/4096), 12): the 7B grid stretched with the model width',
    grid: (d) => logspace(0.8, 0.8 + 3.3 + Math.log10(d / 4096), 12),
  },
};

const SHORT_NAMES: Record<string, string> = {
  '7b': 'llama-2-7b',
  '13b': 'llama-2-13b',
  '70b': 'llama-2-70b',
};

/**
 * The paper's grid for the paper's models (Llama-2 7B/13B/70B by config.json shape, src/model/paper-models.ts;
 * `d` is the stored width), otherwise the width-scaled default.
 */
export function autoPreset(model: ModelRef, d: number): string {
  if (model.id.startsWith('surface:')) return 'surface';
  const size = paperModelSize(model, d);
  return size ? `llama-2-${size}` : 'default';
}

export interface AlphaGrid {
  alphas: number[];
  /** The preset name, `auto:<preset>`, or `list` for an explicit list. */
  preset: string;
}

/**
 * Resolves `--alphas`: `auto` (default), a preset name (llama-2-7b|13b|70b, 7b|13b|70b, mlp-baseline, default),
 * `logspace:START:STOP:NUM`, or a comma-separated list of positive numbers.
 */
export function resolveAlphas(spec: string | number[] | undefined, d: number, model: ModelRef): AlphaGrid {
  if (Array.isArray(spec)) return { alphas: checkList(spec, spec.join(',')), preset: 'list' };
  const text = (spec ?? 'auto').trim();
  if (text === 'auto') {
    const name = autoPreset(model, d);
    return { alphas: ALPHA_PRESETS[name]!.grid(d), preset: `auto:${name}` };
  }
  const name = SHORT_NAMES[text] ?? text;
  const preset = ALPHA_PRESETS[name];
  if (preset) return { alphas: preset.grid(d), preset: name };
  const ls = /^logspace:([^:]+):([^:]+):(\d+)$/.exec(text);
  if (ls) {
    const [a, b, k] = [Number(ls[1]), Number(ls[2]), Number(ls[3])];
    if (!Number.isFinite(a) || !Number.isFinite(b) || k < 1)
      throw new UserError(`--alphas: bad logspace '${text}'`);
    return { alphas: logspace(a, b, k), preset: text };
  }
  const values = text.split(',').map((s) => s.trim());
  if (values.some((v) => v === '' || Number.isNaN(Number(v)))) {
    throw new UserError(
      `--alphas: '${text}' is neither a preset (${[...Object.keys(ALPHA_PRESETS), 'auto'].join(', ')}), ` +
        'logspace:START:STOP:NUM, nor a comma-separated list of numbers',
    );
  }
  return { alphas: checkList(values.map(Number), text), preset: 'list' };
}

function checkList(values: number[], text: string): number[] {
  if (values.length === 0) throw new UserError('--alphas: the grid is empty');
  for (const v of values) {
    if (!(Number.isFinite(v) && v > 0))
      throw new UserError(`--alphas: ${v} in '${text}' is not a positive number`);
  }
  return values;
}
