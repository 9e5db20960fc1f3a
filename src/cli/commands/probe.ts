import type { Command } from 'commander';

/** Registers the `probe` subcommand(s). Owned by the probe stage; filled in as that capability lands. */
export function registerProbe(_program: Command): void {}
