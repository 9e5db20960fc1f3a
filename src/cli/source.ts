/** `--revision`, `--offline`, `--cache-dir`: one definition for every command that loads a model. */
import { type Command, Option } from 'commander';
import type { SourceOptions } from '../model/index.js';

export interface SourceFlags {
  revision?: string;
  offline?: boolean;
  cacheDir?: string;
}

function sourceOptionList(): Option[] {
  return [
    new Option('--revision <rev>', 'Hub revision (branch, tag or commit) of a Hub model id'),
    new Option('--offline', 'never touch the network; use the cache only (also HF_HUB_OFFLINE=1)'),
    new Option(
      '--cache-dir <dir>',
      "Hugging Face cache to read and write (default: huggingface_hub's, $HF_HUB_CACHE or $HF_HOME/hub)",
    ),
  ];
}

/** Adds the three options where a model comes from. */
export function addSourceOptions(cmd: Command): Command {
  for (const o of sourceOptionList()) cmd.addOption(o);
  return cmd;
}

/** The library's source options from the flags (only those given). */
export function sourceFromFlags(flags: SourceFlags): SourceOptions {
  return {
    ...(flags.revision ? { revision: flags.revision } : {}),
    ...(flags.offline ? { offline: true } : {}),
    ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
  };
}
