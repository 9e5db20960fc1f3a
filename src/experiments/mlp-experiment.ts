/**
 * Linear vs MLP probe at one layer (docs/method.md#mlp): the LOO ridge baseline (the MLP script's own α grid by default)
 * and the MLP probe, both fitted on the default train split and scored with the same metric set.
 */
import type { LayerData } from './layer-data.js';
import { type Distance, fitRidgeLoo, predictLinear, type ScalarMetrics, scoreSplit } from './linear.js';
import { fitMlpProbe, type MlpFitOptions, type MlpWeightDecayRun, predictMlpProbe } from './mlp.js';
import { splitRows } from './prompts.js';

export interface MlpExperimentLayer {
  layer: number;
  linear: { alpha: number; train: ScalarMetrics; test: ScalarMetrics };
  mlp: { weightDecay: number; train: ScalarMetrics; test: ScalarMetrics; runs: MlpWeightDecayRun[] };
}

export async function runMlpExperiment(
  data: LayerData,
  options: { alphas: number[]; distance: Distance; mlp?: MlpFitOptions },
): Promise<MlpExperimentLayer> {
  const { train } = splitRows(data);
  const linearFit = await fitRidgeLoo(data, train, options.alphas);
  const linearPred = await predictLinear(linearFit, data.x, data.n);
  const mlpFit = await fitMlpProbe(data.x, data.targets, data.n, data.d, data.t, train, options.mlp);
  const mlpPred = await predictMlpProbe(mlpFit, data.x, data.n);
  return {
    layer: data.layer,
    linear: { alpha: linearFit.alpha, ...(await scoreSplit(data, linearPred, options.distance)) },
    mlp: {
      weightDecay: mlpFit.weightDecay,
      ...(await scoreSplit(data, mlpPred, options.distance)),
      runs: mlpFit.runs,
    },
  };
}
