/**
 * A sparse autoencoder in SAELens' layout (docs/sae.md): W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in],
 * b_dec [d_in], plus `threshold` [d_sae] for JumpReLU. Encoding and decoding run as ONNX graphs (native GEMMs).
 *
 *   sae_in = x − b_dec (when applyBDecToInput) else x
 *   pre    = sae_in · W_enc + b_enc
 *   acts   = ReLU(pre) (standard) | ReLU(pre) on the k largest pre per row (topk) | pre·[pre > θ] (jumprelu)
 *   recon  = acts · W_dec + b_dec
 */

import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { UserError } from '../util/errors.js';

export type SaeArchitecture = 'standard' | 'topk' | 'jumprelu';

export interface SaeParams {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  /** Active features per row (topk only). */
  k?: number;
  applyBDecToInput: boolean;
  wEnc: Float32Array;
  bEnc: Float32Array;
  wDec: Float32Array;
  bDec: Float32Array;
  /** Per-feature JumpReLU threshold (jumprelu only). */
  threshold?: Float32Array;
}

export function checkParams(p: SaeParams, where: string): void {
  const sizes: [string, Float32Array | undefined, number][] = [
    ['W_enc', p.wEnc, p.dIn * p.dSae],
    ['b_enc', p.bEnc, p.dSae],
    ['W_dec', p.wDec, p.dSae * p.dIn],
    ['b_dec', p.bDec, p.dIn],
  ];
  if (p.architecture === 'jumprelu') sizes.push(['threshold', p.threshold, p.dSae]);
  for (const [name, data, size] of sizes) {
    if (!data || data.length !== size)
      throw new UserError(`${where}: ${name} has ${data?.length ?? 0} values, expected ${size}`);
  }
  if (p.architecture === 'topk' && !(Number.isInteger(p.k) && p.k! >= 1 && p.k! <= p.dSae))
    throw new UserError(`${where}: topk needs an integer k in [1, d_sae=${p.dSae}], got ${p.k}`);
}

/** Adds the activation of `p.architecture` to graph g on pre-activations `pre` [B, m]; returns acts. */
export function activationNodes(g: GraphBuilder, arch: SaeArchitecture, pre: string): string {
  const relu = g.op('Relu', [pre]);
  if (arch === 'standard') return relu;
  if (arch === 'jumprelu')
    return g.op('Mul', [pre, g.op('Cast', [g.op('Greater', [pre, 'threshold'])], { to: 1 })]);
  return g.op('Mul', [relu, topkMask(g, pre, 'k')]);
}

let uid = 0;

/** A 0/1 [B, m] mask with ones at the `kName` largest entries of each row of `values` (ties: TopK's pick). */
export function topkMask(g: GraphBuilder, values: string, kName: string): string {
  const id = uid++;
  const [, topIndices] = g.node('TopK', [values, kName], { axis: 1, largest: 1, sorted: 0 }, [
    `topk_values_${id}`,
    `topk_indices_${id}`,
  ]);
  const fill = (v: number, shapeOf: string) =>
    g.op('ConstantOfShape', [g.op('Shape', [shapeOf])], {
      value: { tensor: { type: 'float32', dims: [1], values: [v] } },
    });
  return g.op('ScatterElements', [fill(0, values), topIndices!, fill(1, topIndices!)], { axis: 1 });
}

/** Declares the parameter inputs shared by the encode graphs. */
function paramInputs(g: GraphBuilder, arch: SaeArchitecture): void {
  g.input('X', 'float32', ['B', 'd']);
  g.input('W_enc', 'float32', ['d', 'm']);
  g.input('b_enc', 'float32', ['m']);
  g.input('b_in', 'float32', ['d']); // b_dec, or zeros when the pre-bias is not applied to the input
  if (arch === 'topk') g.input('k', 'int64', [1]);
  if (arch === 'jumprelu') g.input('threshold', 'float32', ['m']);
}

function encodeGraph(arch: SaeArchitecture, withRecon: boolean): GraphBuilder {
  const g = new GraphBuilder(`sae_encode_${arch}`);
  paramInputs(g, arch);
  const pre = g.op('Add', [g.op('MatMul', [g.op('Sub', ['X', 'b_in']), 'W_enc']), 'b_enc']);
  const acts = g.op('Identity', [activationNodes(g, arch, pre)], {}, 'acts');
  g.output(acts, 'float32', ['B', 'm']);
  if (withRecon) {
    g.input('W_dec', 'float32', ['m', 'd']);
    g.input('b_dec', 'float32', ['d']);
    g.op('Add', [g.op('MatMul', [acts, 'W_dec']), 'b_dec'], {}, 'recon');
    g.output('recon', 'float32', ['B', 'd']);
  }
  return g;
}

export function paramFeeds(p: SaeParams): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    W_enc: new ort.Tensor('float32', p.wEnc, [p.dIn, p.dSae]),
    b_enc: new ort.Tensor('float32', p.bEnc, [p.dSae]),
    b_in: new ort.Tensor('float32', p.applyBDecToInput ? p.bDec : new Float32Array(p.dIn), [p.dIn]),
  };
  if (p.architecture === 'topk') feeds['k'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(p.k!)), [1]);
  if (p.architecture === 'jumprelu') feeds['threshold'] = new ort.Tensor('float32', p.threshold!, [p.dSae]);
  return feeds;
}

/**
 * Runs the SAE over n rows of x in chunks; calls `visit(start, rows, acts, recon?)` per chunk, so a 16k-wide
 * activation matrix never has to exist for all rows at once.
 */
export async function forEachChunk(
  p: SaeParams,
  x: Float32Array,
  n: number,
  visit: (start: number, rows: number, acts: Float32Array, recon: Float32Array | undefined) => void,
  options: { recon?: boolean; chunk?: number } = {},
): Promise<void> {
  if (x.length !== n * p.dIn)
    throw new UserError(
      `the SAE expects ${p.dIn}-wide activations, got ${x.length / Math.max(n, 1)} per row`,
    );
  const withRecon = options.recon ?? false;
  const session = await cachedSession(`sae-encode:${p.architecture}:${withRecon}`, () =>
    encodeGraph(p.architecture, withRecon),
  );
  const chunk = options.chunk ?? Math.max(1, Math.floor(32_000_000 / (4 * p.dSae)));
  const feeds = paramFeeds(p);
  if (withRecon) {
    feeds['W_dec'] = new ort.Tensor('float32', p.wDec, [p.dSae, p.dIn]);
    feeds['b_dec'] = new ort.Tensor('float32', p.bDec, [p.dIn]);
  }
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const out = await session.run({
      ...feeds,
      X: new ort.Tensor('float32', x.subarray(start * p.dIn, (start + rows) * p.dIn), [rows, p.dIn]),
    });
    visit(
      start,
      rows,
      out['acts']!.data as Float32Array,
      withRecon ? (out['recon']!.data as Float32Array) : undefined,
    );
  }
}

/** Feature activations of every row (n × d_sae): fine for small SAEs and tests; stream with forEachChunk otherwise. */
export async function encodeSae(p: SaeParams, x: Float32Array, n: number): Promise<Float32Array> {
  const out = new Float32Array(n * p.dSae);
  await forEachChunk(p, x, n, (start, _rows, acts) => out.set(acts, start * p.dSae));
  return out;
}
