import type { Command } from 'commander';

/** Registers the `demo` subcommand(s). Owned by the demo stage; filled in as that capability lands. */
export function registerDemo(_program: Command): void {}
