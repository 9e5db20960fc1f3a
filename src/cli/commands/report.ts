import type { Command } from 'commander';

/** Registers the `report` subcommand(s). Owned by the report stage; filled in as that capability lands. */
export function registerReport(_program: Command): void {}
