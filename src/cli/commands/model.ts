import type { Command } from 'commander';

/** Registers the `model` subcommand(s). Owned by the model stage; filled in as that capability lands. */
export function registerModel(_program: Command): void {}
