import type { Command } from 'commander';

/** Registers the `experiment` subcommands. Owned by the experiments stage; filled in as that capability lands. */
export function registerExperiment(_program: Command): void {}
