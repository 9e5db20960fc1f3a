/**
 * The identity of a checkpoint for cache keys: what decides its activations, read without loading any weights.
 * config.json (canonical JSON hash), every safetensors file's size and header hash (names, dtypes, shapes and
 * offsets of every tensor), and the tokenizer files' hashes; plus the Hub revision it was resolved from.
 * The directory's path is not part of it, so a moved checkpoint still matches its caches.
 */
import { existsSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashJson, sha256Hex } from '../util/hash.js';
import { parseHubId } from './hub.js';

export interface CheckpointIdentity {
  configSha256: string;
  /** Per safetensors file: size, header hash, and a hash of its first and last 64 KiB of tensor data. */
  weights: { file: string; size: number; headerSha256: string; edgesSha256: string }[];
  tokenizer: Record<string, string>;
  /** `owner/name@revision` when the model was named by a Hub id. */
  hub?: string;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Identity of the checkpoint in `dir`; `source` is what the user named (a Hub id is recorded with its revision:
 * `revision`, else the id's `@rev`, else main).
 */
export async function checkpointIdentity(
  dir: string,
  source?: string,
  revision?: string,
): Promise<CheckpointIdentity> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as unknown;
  const files = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort();
  const weights = [];
  for (const file of files) {
    const path = join(dir, file);
    weights.push({ file, size: (await stat(path)).size, ...(await safetensorsHashes(path)) });
  }
  const tokenizer: Record<string, string> = {};
  for (const f of TOKENIZER_FILES) {
    if (existsSync(join(dir, f))) tokenizer[f] = sha256Hex(await readFile(join(dir, f)));
  }
  const hub = source && !existsSync(source) ? parseHubId(source) : undefined;
  return {
    configSha256: hashJson(config),
    weights,
    tokenizer,
    ...(hub && { hub: `${hub.repo}@${revision ?? hub.revision}` }),
  };
}

const EDGE_BYTES = 65536;

/**
 * SHA-256 of a safetensors file's length prefix and JSON header (every tensor's name, dtype, shape and offsets),
 * and of the first and last 64 KiB of its data: cheap, and two checkpoints of one shape with other weights differ.
 */
async function safetensorsHashes(path: string): Promise<{ headerSha256: string; edgesSha256: string }> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const read = async (bytes: number, at: number) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(bytes, size - at)));
      await handle.read(buf, 0, buf.length, at);
      return buf;
    };
    const prefix = await read(8, 0);
    const headerEnd = prefix.length === 8 ? 8 + Number(prefix.readBigUInt64LE(0)) : size;
    const header = await read(Math.min(headerEnd, size) - 8, 8);
    const dataStart = Math.min(headerEnd, size);
    const head = await read(EDGE_BYTES, dataStart);
    const tail = await read(EDGE_BYTES, Math.max(dataStart, size - EDGE_BYTES));
    return {
      headerSha256: sha256Hex(Buffer.concat([prefix, header])),
      edgesSha256: sha256Hex(Buffer.concat([head, tail])),
    };
  } finally {
    await handle.close();
  }
}
