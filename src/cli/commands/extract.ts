import { type Command, Option } from 'commander';
import { deviceOption, gpuDtypeOption } from '../device.js';
import { addSourceOptions } from '../source.js';
import { extractCli, mergeCli, runCli } from './extract-run.js';

function addExtractionOptions(cmd: Command): Command {
  return addSourceOptions(cmd)
    .option(
      '--layers <spec>',
      'layers: all | 0,8,16 | 0:32:4 (Python-style ranges, negatives count from the end)',
      'all',
    )
    .option(
      '--hooks <list>',
      'hooks: resid_post[,mlp_post,resid_pre,resid_mid,attn_out,mlp_out]; mixture-of-experts models also ' +
        'expert_weights (router probabilities, n_experts wide) or expert_indices (top-k experts), each into its own store',
      'resid_post',
    )
    .addOption(
      new Option(
        '--aggregate <how>',
        "kept token: the entity's last token (the paper) or the mean over its tokens",
      )
        .choices(['last', 'mean'])
        .default('last'),
    )
    .addOption(
      new Option('--dtype <type>', "stored precision (int8 = the paper's per-channel 8-bit quantisation)")
        .choices(['f32', 'f16', 'int8'])
        .default('f32'),
    )
    .option(
      '--batch-size <n>',
      'sequences per engine call and per resumable chunk, sorted there into length buckets (default 1024; 256 for models over 2 GiB of f32 weights)',
    )
    .option(
      '--limit <n>',
      "only the first N entities, in file order (the paper's files are sorted by type: see --sample)",
    )
    .option(
      '--sample <n>',
      'N entities stratified by entity type and train/test split (seeded by --seed; see docs/extract.md)',
    )
    .option(
      '--seed <s>',
      'seed of --sample and of the random-token prompt (ids depend only on seed and row)',
      '0',
    )
    .addOption(deviceOption())
    .addOption(gpuDtypeOption())
    .option(
      '--paper-compat',
      "reproduce the authors' pipeline: 8-bit per-channel quantisation and the last layer after the final norm",
    )
    .option('--quiet', 'log lines instead of a progress bar (for batch jobs)');
}

/** Registers `extract`, `merge` and `run`. */
export function registerExtract(program: Command): void {
  addExtractionOptions(
    program
      .command('extract')
      .summary('cache activations of every layer for a dataset x prompt x model')
      .description(
        "Runs MODEL on every entity of DATASET rendered with PROMPT and stores the activation of the entity's last " +
          'token (or the mean over its tokens) at every requested layer and hook, as an activation store (a ' +
          "directory: manifest.json, entities.jsonl with each entity's input_ids and kept position, one safetensors " +
          'file per hook and layer).\n\nWork is written in chunks to <out>.work/; after an interruption, rerun the ' +
          'same command with --resume. On a cluster, --shard i/N (or SLURM_ARRAY_TASK_ID/COUNT, or ' +
          'JOB_COMPLETION_INDEX with --shard-count) writes <out>.shard-i-of-N; join them with `spacetime-lens merge`.',
      )
      .requiredOption(
        '--model <model>',
        'Hugging Face checkpoint directory, Hub id (org/name[@rev]), static:<embedding>, or a surface baseline ' +
          'surface:tfidf|bag-of-tokens|char-ngrams[@TOKENIZER] (docs/controls.md)',
      )
      .requiredOption(
        '--dataset <name>',
        'dataset name (world_place, ..., world_cities) or a CSV/JSONL/spec path',
      )
      .option(
        '--prompt <variant>',
        "prompt variant (see `datasets prompts NAME`), or 'all' (one store per prompt under --out)",
      )
      .requiredOption('--out <dir>', 'store directory to create'),
  )
    .option('--resume', 'finish an interrupted run from its work directory')
    .option('--overwrite', 'replace an existing store')
    .option('--shard <i/N>', 'extract only shard i (0-based) of N contiguous slices')
    .option(
      '--shard-count <n>',
      'number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes)',
    )
    .option('--no-auto-shard', 'ignore SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX in the environment')
    .addOption(
      new Option(
        '--control <kind>',
        "random-init: the model's architecture and tokenizer with fresh Hugging Face-style weights (seeded by " +
          '--seed), from config.json alone; recorded as model random-init:<model> (docs/controls.md)',
      ).choices(['random-init']),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  spacetime-lens extract --model ./Llama-2-7b-hf --dataset world_place --prompt coords --out stores/world\n' +
        '  spacetime-lens extract --model HuggingFaceTB/SmolLM2-135M --dataset art --prompt all --layers 0:30:2 --out stores/art\n' +
        '  spacetime-lens extract ... --shard 3/8        # then: spacetime-lens merge stores/world.shard-* --out stores/world',
    )
    .action(async (opts) => {
      await extractCli(opts);
    });

  program
    .command('merge')
    .summary('join the shard stores of one extraction into one store')
    .description(
      'Checks that the shard stores belong together (same model and config hash, dataset SHA-256, prompt, hooks, ' +
        'layers, dtype, aggregation, seed and batch size) and cover the dataset exactly once, then writes one store ' +
        '(byte-identical layer files to a single-process run; int8 shards are quantised here, over all rows).',
    )
    .argument('<stores...>', 'shard stores, e.g. stores/world.shard-*')
    .requiredOption('--out <dir>', 'merged store directory')
    .option('--dataset <name>', 'dataset name or path, if the one recorded in the shards moved')
    .option('--overwrite', 'replace an existing store')
    .action(async (stores: string[], opts) => {
      await mergeCli(stores, opts);
    });

  addExtractionOptions(
    program
      .command('run')
      .summary('extract, probe and report in one command, reusing whatever is already done')
      .description(
        'Extraction (like `extract`), then linear probes for every layer (like `probe`), then the HTML report, ' +
          'all under one folder. A step is skipped only when its output recorded exactly the settings asked for ' +
          '(model files, dataset, prompt, rows, layers, hooks, dtype, aggregation, paper-compat), so rerunning ' +
          'continues where it stopped. The default folder name ends in a hash of those settings (other settings, ' +
          'other folder); an explicit --out made with other settings is refused, naming the setting. For a quick ' +
          "look use --sample N (all entity types, the dataset's test fraction) rather than --limit N.",
      )
      .requiredOption('--model <model>', 'Hugging Face checkpoint directory, Hub id or static:<embedding>')
      .requiredOption('--dataset <name>', 'dataset name or path')
      .option('--prompt <variant>', "prompt variant (default: the dataset's canonical prompt)")
      .option(
        '--out <dir>',
        'output directory (default: ./spacetime-lens-runs/<model>/<dataset>/<prompt>-<settings hash>)',
      ),
  )
    .option('--resume', 'accepted for symmetry with extract; run always resumes')
    .option('--no-controls', 'skip the surface baselines and the control task (docs/controls.md)')
    .option('--random-init-control', 'also extract and probe the random-init twin (one more extraction)')
    .action(async (opts) => {
      await runCli(opts);
    });
}
