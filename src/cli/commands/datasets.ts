import type { Command } from 'commander';

/** Registers the `datasets` subcommand(s). Owned by the datasets stage; filled in as that capability lands. */
export function registerDatasets(_program: Command): void {}
