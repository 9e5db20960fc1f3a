// The Hugging Face token, found where huggingface_hub looks: $HF_TOKEN (or the older $HUGGING_FACE_HUB_TOKEN), else
// the file $HF_TOKEN_PATH, else $HF_HOME/token (what `hf auth login` / `huggingface-cli login` write). The token
// itself is never printed; messages name only where it came from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfHome } from './hub-cache.js';

export interface HubToken {
  token: string;
  /** Where it was found, e.g. "HF_TOKEN" or "/home/me/.cache/huggingface/token". */
  source: string;
}

/** The token file huggingface_hub reads and writes. */
export function tokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['HF_TOKEN_PATH'] ?? join(hfHome(env), 'token');
}

/** The user's token, or undefined when they are not logged in. */
export function findHubToken(env: NodeJS.ProcessEnv = process.env): HubToken | undefined {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const v = env[name]?.trim();
    if (v) return { token: v, source: name };
  }
  const path = tokenPath(env);
  try {
    const v = readFileSync(path, 'utf8').trim();
    if (v) return { token: v, source: path };
  } catch {
    // not logged in
  }
  return undefined;
}
