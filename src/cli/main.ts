import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { registerCausal } from './commands/causal.js';
import { registerDatasets } from './commands/datasets.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExperiment } from './commands/experiment.js';
import { registerExtract } from './commands/extract.js';
import { registerImport } from './commands/import.js';
import { registerModel } from './commands/model.js';
import { registerNeurons } from './commands/neurons.js';
import { registerProbe } from './commands/probe.js';
import { registerReport } from './commands/report.js';
import { registerSae } from './commands/sae.js';
import { rememberInvocation } from './interrupt.js';

/** Builds the command tree. Each stage registers its own subcommands; this file only assembles them. */
export function buildProgram(): Command {
  const program = new Command('spacetime-lens')
    .description(
      'Find space and time inside a language model: activations, linear probes, experiments, reports.',
    )
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    registerDemo,
    registerDatasets,
    registerImport,
    registerModel,
    registerExtract,
    registerProbe,
    registerExperiment,
    registerNeurons,
    registerCausal,
    registerSae,
    registerReport,
    registerDoctor,
  ]) {
    register(program);
  }
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 user error (one-line reason on stderr), 2 internal error.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  rememberInvocation(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version exits are successes; usage errors are the user's (commander printed the reason).
    return err.exitCode === 0 ? 0 : 1;
  }
  if (err instanceof UserError) {
    console.error(`spacetime-lens: ${err.message}`);
    return 1;
  }
  console.error('spacetime-lens: internal error:', err instanceof Error ? (err.stack ?? err.message) : err);
  return 2;
}
