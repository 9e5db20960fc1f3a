/**
 * The weights side of the neuron searches (docs/neurons.md): each neuron's input and output rows as the checkpoint
 * holds them, and as TransformerLens folds them into residual-stream directions; the authors' probe layers.
 */
import type { ModelSpec, WeightSource } from '../model/index.js';
import { UserError } from '../util/errors.js';

export type WeightType = 'W_in' | 'W_gate' | 'W_out';

/** The weights side of a model: an architecture spec plus a lazy tensor source (a checkpoint or a HookedModel). */
export interface NeuronWeights {
  spec: ModelSpec;
  source: WeightSource;
}

/** The neuron weight types a model has (W_gate only for gated MLPs). */
export function weightTypes(spec: ModelSpec): WeightType[] {
  return spec.gated ? ['W_in', 'W_gate', 'W_out'] : ['W_in', 'W_out'];
}

/**
 * One weight type of one layer as neuron rows [d_mlp, d]: up/gate rows are the neurons' input weights, down's
 * columns their output directions. Handles both nn.Linear ([out, in]) and GPT-2 Conv1D ([in, out]) layouts.
 */
export async function neuronRows(w: NeuronWeights, layer: number, type: WeightType): Promise<Float32Array> {
  const { spec } = w;
  const names = spec.names.layer(layer);
  const name = type === 'W_in' ? names.up : type === 'W_gate' ? names.gate : names.down;
  if (!name) throw new UserError(`layer ${layer} of this model has no ${type} weights (not a gated MLP)`);
  const data = await w.source.readFloat32(name);
  const { dModel: d, dMlp: m } = spec;
  if (data.length !== d * m) throw new UserError(`${name}: expected ${m}×${d} values, found ${data.length}`);
  // Rows are neurons already when (input weights, [out=m, in=d]) or (output weights, Conv1D [in=m, out=d]).
  const rowsAlready = (type === 'W_out') === (spec.linear === 'in_out');
  return rowsAlready ? data : transpose(data, d, m);
}

/**
 * A neuron's weights as the direction it reads from or writes to the residual stream, as TransformerLens's
 * `from_pretrained` (fold_ln, center_writing_weights) holds them: input rows (W_in = up, W_gate) times the pre-MLP
 * norm's gain (1 + w where the model's RMSNorm adds one, Gemma), and for LayerNorm models centred over d_model (the
 * norm's output has zero mean); output rows (W_out) centred for LayerNorm models, unchanged for RMSNorm. A model
 * with no norm before its MLP (OLMo-2) keeps its raw rows.
 */
export async function residualRows(w: NeuronWeights, layer: number, type: WeightType): Promise<Float32Array> {
  const { spec } = w;
  // A copy: the source may hand out the model's own (cached) tensor.
  const rows = (await neuronRows(w, layer, type)).slice();
  const { dModel: d, dMlp: m } = spec;
  const ln2 = spec.names.layer(layer).ln2;
  if (type !== 'W_out' && ln2) {
    const g = await w.source.readFloat32(ln2);
    if (g.length !== d) throw new UserError(`${ln2}: expected ${d} values, found ${g.length}`);
    const gain = spec.normPlusOne ? g.map((v) => 1 + v) : g;
    for (let j = 0; j < m; j++) for (let c = 0; c < d; c++) rows[j * d + c] = rows[j * d + c]! * gain[c]!;
  }
  if (spec.norm === 'layer' && (type === 'W_out' || ln2)) {
    for (let j = 0; j < m; j++) {
      let mean = 0;
      for (let c = 0; c < d; c++) mean += rows[j * d + c]!;
      mean /= d;
      for (let c = 0; c < d; c++) rows[j * d + c] = rows[j * d + c]! - mean;
    }
  }
  return rows;
}

/** The authors' probe layers for the cosine search (`start_layer=15` .. L−1) among those a probe has. */
export const PAPER_PROBE_START_LAYER = 15;
export function paperProbeLayers(available: number[], nLayers: number): number[] {
  const layers = available.filter((l) => l >= PAPER_PROBE_START_LAYER && l <= nLayers - 1);
  if (!layers.length)
    throw new UserError(
      `--paper-compat takes the authors' probe layers ${PAPER_PROBE_START_LAYER}..${nLayers - 1}, and the probe has ` +
        `none of them (it has ${available.join(',')}): pass --probe-layers`,
    );
  return layers;
}

/** [d, m] -> [m, d] (nn.Linear down_proj, or Conv1D up/gate). */
function transpose(a: Float32Array, d: number, m: number): Float32Array {
  const t = new Float32Array(d * m);
  for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) t[j * d + i] = a[i * m + j]!;
  return t;
}
