/**
 * The device-resident execution path (webgpu by default, or EngineOptions.resident): a batch's residual stream is
 * uploaded once after the embedding and stays in device memory through every block; hooks read back only the rows
 * they keep, and an edited value goes back up as a new tensor (see resident.ts for the moving graphs).
 */
import { ort } from '../native/index.js';
import { UserError } from '../util/errors.js';
import type { Batch, Engine, Feeds } from './engine-context.js';
import { type Capture, type HookEdit, hookPoint, NO_EDITS } from './hook-points.js';
import type { LayerWeights } from './layer-weights.js';
import { moeMlp } from './moe-path.js';
import { expectFinite, keptRows, rowsTensor } from './resident.js';
import type { EngineSessions } from './sessions.js';
import { attentionKind, PRESENT } from './shared-prefix.js';

/** Moves a batch's embedded residual stream to the device. */
export async function toDevice(engine: Engine, batch: Batch): Promise<void> {
  batch.dev = await upload(engine.sessions, batch.resid, [batch.B * batch.T, engine.spec.dModel]);
  batch.resid = new Float32Array(0);
}

/** Brings the whole residual stream back for final() (only when a final hook is asked for). */
export async function fromDevice(engine: Engine, batch: Batch): Promise<void> {
  const dev = batch.dev!;
  batch.resid = await readBackRows(
    engine.sessions,
    dev,
    [...Array(batch.B * batch.T).keys()],
    'ln_final input',
  );
  dev.dispose();
  batch.dev = undefined;
}

/** hostBlock() with every tensor left in device memory; hooks read back only what they keep. */
export async function residentBlock(
  engine: Engine,
  l: number,
  batch: Batch,
  weights: LayerWeights,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
  past: Feeds | undefined,
): Promise<void> {
  const { dModel: d, dMlp } = engine.spec;
  const { sessions } = engine;
  const made: ort.Tensor[] = [batch.dev!];
  const hook = async (name: string, value: ort.Tensor, width: number) => {
    const out = await residentHook(sessions, name, l, value, batch, captures, edits, kept, width);
    made.push(value, out);
    return out;
  };
  const attnOutName = `blocks.${l}.hook_attn_out`;
  const mlpOutName = `blocks.${l}.hook_mlp_out`;
  for (const name of [attnOutName, mlpOutName]) {
    if (edits.has(name)) {
      throw new UserError(
        `editing ${name} is not available on the GPU path yet; use --device cpu for this edit`,
      );
    }
  }
  const x = await hook(`blocks.${l}.hook_resid_pre`, batch.dev!, d);
  const parallel = engine.spec.parallelResidual;
  const attnFetch = [
    ...(parallel ? [] : ['resid_mid']),
    ...(parallel || captures.has(attnOutName) ? ['attn_out'] : []),
    ...(batch.isPrefix ? PRESENT : []),
  ];
  const attn = await sessions.exec(
    attentionKind(batch, past),
    { ...weights.attn, x, ...engine.attention.inputs(l, batch, past) },
    attnFetch,
  );
  if (batch.isPrefix) batch.present = { past_k: attn['present_k']!, past_v: attn['present_v']! };
  // The prefix's keys and values live until the layer's last batch has used them (releasePresent).
  made.push(
    ...Object.entries(attn)
      .filter(([k]) => !PRESENT.includes(k))
      .map(([, t]) => t),
  );
  if (captures.has(attnOutName)) await hook(attnOutName, attn['attn_out']!, d);
  const attnOut = parallel ? attn['attn_out']! : undefined;
  const mlpIn = attnOut ? x : await hook(`blocks.${l}.hook_resid_mid`, attn['resid_mid']!, d);
  if (weights.moe) {
    // The mixture-of-experts sub-block runs on host rows (routing is chosen on the host), then goes back up.
    const rowsN = batch.B * batch.T;
    const host = await readBackRows(sessions, mlpIn, [...Array(rowsN).keys()], `blocks.${l}.hook_resid_mid`);
    const hostHook = (name: string, value: Float32Array, width = d) =>
      hookPoint(`blocks.${l}.${name}`, l, value, batch, captures, edits, kept, width);
    const post = await moeMlp(engine, l, batch, host, weights, hostHook);
    const residPost = await upload(sessions, post, [rowsN, d]);
    made.push(residPost);
    batch.dev = await residentHook(
      sessions,
      `blocks.${l}.hook_resid_post`,
      l,
      residPost,
      batch,
      captures,
      edits,
      kept,
      d,
    );
    for (const t of new Set(made)) if (t !== batch.dev) t.dispose();
    return;
  }
  const postName = `blocks.${l}.mlp.hook_post`;
  const feeds: Feeds = { ...weights.mlp, x: mlpIn, ...(attnOut && { attn_out: attnOut }) };
  const outFetch = ['resid_post', ...(captures.has(mlpOutName) ? ['mlp_out'] : [])];
  let residPost: ort.Tensor;
  let mlpOut: ort.Tensor | undefined;
  if (edits.has(postName)) {
    const inn = await sessions.exec('mlp_in', feeds);
    feeds['mlp_post'] = await hook(postName, inn['mlp_post']!, dMlp);
    const out = await sessions.exec('mlp_out', feeds, outFetch);
    residPost = out['resid_post']!;
    mlpOut = out['mlp_out'];
  } else {
    const fetches = captures.has(postName) ? [...outFetch, 'mlp_post'] : outFetch;
    const out = await sessions.exec('mlp_full', feeds, fetches);
    if (captures.has(postName)) await hook(postName, out['mlp_post']!, dMlp);
    residPost = out['resid_post']!;
    mlpOut = out['mlp_out'];
  }
  if (mlpOut) await hook(mlpOutName, mlpOut, d);
  made.push(residPost);
  const post = `blocks.${l}.hook_resid_post`;
  batch.dev = await residentHook(sessions, post, l, residPost, batch, captures, edits, kept, d);
  for (const t of new Set(made)) if (t !== batch.dev) t.dispose();
}

/**
 * hookPoint() for a device tensor. Capture-only hooks with a kept position read back B rows (one per sequence);
 * full captures and edits read back everything, and an edited value goes back up as a new tensor.
 */
async function residentHook(
  sessions: EngineSessions,
  name: string,
  layer: number | undefined,
  value: ort.Tensor,
  batch: Batch,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
  width: number,
): Promise<ort.Tensor> {
  if (!captures.has(name) && !edits.has(name)) return value;
  if (!edits.has(name) && kept) {
    const rows = await readBackRows(sessions, value, keptRows(batch.seqs, batch.T, kept), name);
    hookPoint(name, layer, rows, batch, captures, NO_EDITS, kept, width, true);
    return value;
  }
  const all = await readBackRows(sessions, value, [...Array(batch.B * batch.T).keys()], name);
  const edited = hookPoint(name, layer, all, batch, captures, edits, kept, width);
  return edits.has(name) ? upload(sessions, edited, [batch.B * batch.T, width]) : value;
}

/** A host array as a device tensor (f16 when asked: weight matrices held in half precision). */
export async function upload(
  sessions: EngineSessions,
  data: Float32Array,
  dims: number[],
  f16 = false,
): Promise<ort.Tensor> {
  const out = await sessions.exec(f16 ? 'upload_f16' : 'upload_f32', {
    x: new ort.Tensor('float32', data, [data.length]),
    shape: rowsTensor(dims),
  });
  return out['y']!;
}

/** Rows of a device tensor [N, w], read back to the host. */
async function readBackRows(
  sessions: EngineSessions,
  value: ort.Tensor,
  rows: number[],
  where: string,
): Promise<Float32Array> {
  const out = await sessions.exec('gather', { x: value, rows: rowsTensor(rows) });
  const data = out['y']!.data as Float32Array;
  if (sessions.device === 'webgpu') expectFinite(data, where);
  return data;
}
