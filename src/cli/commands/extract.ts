import type { Command } from 'commander';

/** Registers the `extract` subcommand(s). Owned by the extract stage; filled in as that capability lands. */
export function registerExtract(_program: Command): void {}
