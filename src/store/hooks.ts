/**
 * The hook vocabulary shared by every stage that names activations: TransformerLens-style per-layer hook names,
 * the short aliases `--hooks` accepts, and `--layers` parsing. extract, probe and the CLI all import it from here.
 */
import { UserError } from '../util/errors.js';

/** Short hook names accepted by `--hooks`, mapped to the TransformerLens-style per-layer hook suffix. */
export const HOOK_ALIASES: Readonly<Record<string, string>> = {
  resid_post: 'hook_resid_post',
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  mlp_post: 'mlp.hook_post',
  attn_out: 'hook_attn_out',
  mlp_out: 'hook_mlp_out',
  expert_weights: 'mlp.hook_expert_weights',
  expert_indices: 'mlp.hook_expert_indices',
};

/**
 * Parses `--layers`: `all`, a list `0,8,16`, a Python-style range `start:stop[:step]` (stop exclusive; `:` alone or
 * an empty stop means the number of layers), negative indices counting from the end, or a mix (`0,10:20:5,-1`).
 * Returns sorted unique layer indices, all within [0, nLayers).
 */
export function parseLayers(spec: string, nLayers: number): number[] {
  const text = spec.trim();
  if (text === '' || text === 'all') return Array.from({ length: nLayers }, (_, i) => i);
  const out = new Set<number>();
  const index = (raw: string, what: string): number => {
    if (!/^-?\d+$/.test(raw))
      throw new UserError(`--layers: '${raw}' is not an integer (in '${spec}', ${what})`);
    const v = Number(raw);
    return v < 0 ? nLayers + v : v;
  };
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p.includes(':')) {
      const [a = '', b = '', c = '', ...rest] = p.split(':');
      if (rest.length) throw new UserError(`--layers: '${p}' has too many ':' (use start:stop:step)`);
      const start = a.trim() === '' ? 0 : index(a.trim(), 'range start');
      const stop = b.trim() === '' ? nLayers : index(b.trim(), 'range stop');
      const step = c.trim() === '' ? 1 : Number(c.trim());
      if (!Number.isInteger(step) || step <= 0)
        throw new UserError(`--layers: step in '${p}' must be a positive integer`);
      for (let l = start; l < Math.min(stop, nLayers); l += step) out.add(l);
      if (start >= nLayers || start < 0) {
        throw new UserError(`--layers: range '${p}' starts outside the model's layers 0..${nLayers - 1}`);
      }
    } else {
      const l = index(p, 'list entry');
      if (l < 0 || l >= nLayers) {
        throw new UserError(`--layers: layer ${p} does not exist (the model has layers 0..${nLayers - 1})`);
      }
      out.add(l);
    }
  }
  if (out.size === 0) throw new UserError(`--layers: '${spec}' selects no layer`);
  return [...out].sort((x, y) => x - y);
}

/** Parses `--hooks resid_post,mlp_post` into per-layer hook suffixes (`hook_resid_post`, `mlp.hook_post`). */
export function parseHooks(spec: string): string[] {
  const out: string[] = [];
  for (const raw of spec.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const suffix = HOOK_ALIASES[name] ?? (Object.values(HOOK_ALIASES).includes(name) ? name : undefined);
    if (!suffix) {
      throw new UserError(
        `--hooks: unknown hook '${name}' (choose from ${Object.keys(HOOK_ALIASES).join(', ')})`,
      );
    }
    if (!out.includes(suffix)) out.push(suffix);
  }
  if (!out.length) throw new UserError('--hooks: no hook given');
  return out;
}

/** The full TransformerLens hook name of a per-layer hook suffix: `blocks.{layer}.{suffix}`. */
export function hookName(layer: number, suffix = 'hook_resid_post'): string {
  return `blocks.${layer}.${suffix}`;
}
