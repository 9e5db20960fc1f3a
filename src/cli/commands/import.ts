import { type Command, InvalidArgumentError, Option } from 'commander';
import { importActivations } from '../../store/import.js';
import { UserError } from '../../util/errors.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function layerIndex(value: string, previous: number[] = []): number[] {
  const v = Number(value);
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return [...previous, v];
}

interface ImportFlags {
  dataset: string;
  layer: number[];
  array: string[];
  tensor?: string[];
  hook: string;
  prompt?: string;
  promptText?: string;
  model?: string;
  aggregation: 'last' | 'mean';
  dtype: 'f32' | 'f16';
  out: string;
  overwrite?: boolean;
}

/** Registers `import`: external activations (.npy / .safetensors) -> an activation store. */
export function registerImport(program: Command): void {
  program
    .command('import')
    .summary('turn activations computed elsewhere (.npy / .safetensors / .pt) into an activation store')
    .description(
      'Builds an activation store from [entities, width] arrays computed with another tool (TransformerLens, ' +
        "the authors' code: their per-layer .pt files, 8-bit quantised, are dequantised as PyTorch does). Row i of " +
        "every array must be row i of the dataset (the dataset's file order, as `datasets show` lists it); a " +
        'row-count or width mismatch, a non-2-D array or a non-finite value is an error. Repeat --layer/--array to ' +
        'import several layers (paired in order). The store then feeds `probe`, `experiment` and `report` like an ' +
        'extracted one. Layout: docs/store.md.',
    )
    .requiredOption(
      '--dataset <name>',
      'dataset name (world_place, ..., world_cities) or a CSV/JSONL/spec path',
    )
    .requiredOption('--layer <L>', 'layer index of the next --array (repeatable)', layerIndex)
    .requiredOption(
      '--array <file>',
      '[entities, width] array: FILE.npy or FILE.safetensors (repeatable)',
      collect,
    )
    .option(
      '--tensor <name>',
      'tensor to take from each safetensors/.pt file, in --array order (default: its only tensor, or the one named by the hook)',
      collect,
    )
    .option(
      '--hook <hook>',
      'which activations these are: resid_post, resid_pre, resid_mid or mlp_post',
      'resid_post',
    )
    .option(
      '--prompt <variant>',
      "prompt variant used (see `datasets prompts NAME`; default: the dataset's canonical one)",
    )
    .option('--prompt-text <text>', 'the prompt prefix, when it is not one of the dataset variants')
    .option('--model <id>', 'model the activations came from (recorded in the manifest)', 'unknown')
    .addOption(
      new Option(
        '--aggregation <how>',
        "token kept per entity: the entity's last token or the mean over its tokens",
      )
        .choices(['last', 'mean'])
        .default('last'),
    )
    .addOption(new Option('--dtype <type>', 'stored precision').choices(['f32', 'f16']).default('f32'))
    .requiredOption('--out <dir>', 'store directory to create')
    .option('--overwrite', 'replace an existing store at --out')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  spacetime-lens import --dataset world_place --layer 20 --array l20.npy --model meta-llama/Llama-2-7b-hf --out stores/wp\n' +
        '  spacetime-lens import --dataset cities.csv --layer 0 --array acts.safetensors --tensor layer0 \\\n' +
        '      --layer 1 --array acts.safetensors --tensor layer1 --dtype f16 --out stores/cities',
    )
    .action(async (flags: ImportFlags) => {
      if (flags.layer.length !== flags.array.length) {
        throw new UserError(
          `import: ${flags.layer.length} --layer but ${flags.array.length} --array; give them in pairs`,
        );
      }
      if (flags.tensor && flags.tensor.length !== flags.array.length) {
        throw new UserError(
          `import: give one --tensor per --array (${flags.tensor.length} for ${flags.array.length})`,
        );
      }
      const result = await importActivations({
        dataset: flags.dataset,
        arrays: flags.array.map((path, i) => ({ layer: flags.layer[i], path, tensor: flags.tensor?.[i] })),
        hook: flags.hook,
        prompt: flags.prompt,
        promptText: flags.promptText,
        model: flags.model,
        aggregation: flags.aggregation,
        dtype: flags.dtype,
        out: flags.out,
        overwrite: flags.overwrite,
      });
      console.log(
        `wrote ${result.store}: ${result.n} entities x d=${result.d}, ${result.hooks.length} layer(s): ${result.hooks.join(', ')}`,
      );
    });
}
