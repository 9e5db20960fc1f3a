import type { Command } from 'commander';

/** Registers the `import` subcommand(s). Owned by the import stage; filled in as that capability lands. */
export function registerImport(_program: Command): void {}
