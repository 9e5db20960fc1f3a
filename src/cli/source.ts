/** `--revision`, `--offline`, `--cache-dir`, `--refresh`: one definition for every command that loads a model. */
import { type Command, Option } from 'commander';
import type { SourceOptions } from '../model/index.js';

export interface SourceFlags {
  revision?: string;
  offline?: boolean;
  cacheDir?: string;
  refresh?: boolean;
}

function sourceOptionList(): Option[] {
  return [
    new Option('--revision <rev>', 'Hub revision (branch, tag or commit) of a Hub model id'),
    new Option('--offline', 'never touch the network; use the cache only (also HF_HUB_OFFLINE=1)'),
    new Option(
      '--cache-dir <dir>',
      "Hugging Face cache to read and write (default: huggingface_hub's, $HF_HUB_CACHE or $HF_HOME/hub)",
    ),
    new Option(
      '--refresh',
      'ask the Hub where --revision (a branch or tag) points now, even when the cache already resolves it',
    ).conflicts('offline'),
  ];
}

/** Adds the four options where a model comes from. */
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
    ...(flags.refresh ? { refresh: true } : {}),
  };
}
