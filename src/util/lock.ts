/**
 * Advisory lock files for folders and downloads that several processes (Slurm jobs on shared storage, two terminals)
 * may write at once. A lock is a file created with O_EXCL (atomic on local file systems and NFSv3+) holding the
 * holder's pid, host and a random token. The holder refreshes its mtime every `heartbeatMs`. A waiter takes a lock
 * over when it is stale:
 * - same host: when its pid is gone, at once (a live pid is never taken over);
 * - another host: when its content and mtime have not changed for `staleMs` (5 min) as measured by the waiter's own
 *   clock, so clock skew between hosts does not matter, and well above NFS attribute caching (acregmax 60 s): the
 *   holder died or lost the file system;
 * - empty or unreadable content (huggingface_hub's filelock leaves empty lock files behind) that no process holds
 *   with flock(2) (Linux: /proc/locks; a live huggingface_hub download holds one) and that stays so for 1 s.
 * Breaking a stale lock is itself guarded (`<lock>.break`, O_EXCL) so two waiters never both take over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { UserError } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What holds it (e.g. "extract"), for the waiting message. */
  purpose?: string;
  token: string;
}

export interface LockOptions {
  /** Wait while a live process holds the lock (default), or refuse at once with `refuse`'s line. */
  wait?: boolean;
  /** Told once, when this process starts waiting. */
  onWait?: (line: string) => void;
  /** The UserError message when `wait` is false and the lock is held (default: "<path> is locked by ..."). */
  refuse?: (holder: string) => string;
  purpose?: string;
  heartbeatMs?: number;
  staleMs?: number;
  pollMs?: number;
}

export interface HeldLock {
  readonly path: string;
  /** True once another process replaced or removed the lock file (this one was judged stale). */
  readonly lost: boolean;
  release(): Promise<void>;
}

export const LOCK_HEARTBEAT_MS = 10_000;
export const LOCK_STALE_MS = 5 * 60_000;
const EMPTY_GRACE_MS = 1_000;

/** True when a process with this pid exists on this host (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.token === 'string'
      ? h
      : undefined;
  } catch {
    return undefined;
  }
}

/** One line naming the holder, for messages. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another program (an empty lock file, as huggingface_hub writes)';
  return `pid ${h.pid} on host ${h.host}${h.purpose ? ` (${h.purpose})` : ''} since ${h.since}`;
}

/** Linux: whether some local process holds a flock(2)/POSIX lock on this file (what Python's filelock takes). */
export function heldByOsLock(path: string): boolean {
  let text: string;
  let ino: number;
  let dev: number;
  try {
    const s = statSync(path);
    ino = s.ino;
    dev = s.dev;
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  // Linux dev_t: major = bits 8-19 and 32+, minor = bits 0-7 and 12-31; /proc/locks prints them in hex.
  const major = ((dev >> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) * 0x1000);
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  for (const line of text.split('\n')) {
    const m = /\s([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m && Number(m[3]) === ino && parseInt(m[1]!, 16) === major && parseInt(m[2]!, 16) === minor)
      return true;
  }
  return false;
}

interface Observed {
  signature: string;
  firstSeen: number;
}

/** Reads the lock's holder and a signature (content + mtime) of its current state; undefined when it is gone. */
async function observe(path: string): Promise<{ holder?: LockHolder; signature: string } | undefined> {
  try {
    const [text, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const holder = parseHolder(text);
    return { ...(holder ? { holder } : {}), signature: `${s.mtimeMs}|${text}` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isStale(
  path: string,
  now: { holder?: LockHolder; signature: string },
  seen: Observed,
  staleMs: number,
): boolean {
  const unchangedFor = Date.now() - seen.firstSeen;
  const h = now.holder;
  if (h) return h.host === hostname() ? !processAlive(h.pid) : unchangedFor >= staleMs;
  if (heldByOsLock(path)) return false;
  return unchangedFor >= Math.min(EMPTY_GRACE_MS, staleMs);
}

/** Removes the lock if it still is in the state judged stale; false when someone else is breaking it. */
async function breakStale(path: string, signature: string, staleMs: number): Promise<boolean> {
  const guard = `${path}.break`;
  try {
    const handle = await open(guard, 'wx');
    await handle.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A breaker that died between creating and removing its guard: guards live milliseconds.
    const s = await stat(guard).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > staleMs) await rm(guard, { force: true });
    return false;
  }
  try {
    const again = await observe(path);
    if (again && again.signature === signature) await rm(path, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

/** Takes the lock at `path`, waiting for (or refusing, with `wait: false`) a live holder. */
export async function acquireLock(path: string, o: LockOptions = {}): Promise<HeldLock> {
  const staleMs = o.staleMs ?? LOCK_STALE_MS;
  const pollMs = o.pollMs ?? Math.min(1000, Math.max(20, staleMs / 20));
  await mkdir(dirname(path), { recursive: true });
  let seen: Observed | undefined;
  let told = false;
  for (;;) {
    const holder: LockHolder = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      ...(o.purpose ? { purpose: o.purpose } : {}),
      token: randomBytes(8).toString('hex'),
    };
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(holder));
      } finally {
        await handle.close();
      }
      return heldLock(path, holder.token, o.heartbeatMs ?? LOCK_HEARTBEAT_MS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const now = await observe(path);
    if (!now) continue; // released between our attempt and the read
    if (!seen || seen.signature !== now.signature) seen = { signature: now.signature, firstSeen: Date.now() };
    if (isStale(path, now, seen, staleMs)) {
      if (await breakStale(path, now.signature, staleMs)) seen = undefined;
      continue;
    }
    const who = describeHolder(now.holder);
    if (o.wait === false)
      throw new UserError(o.refuse ? o.refuse(who) : `${path} is locked by ${who}; wait for it to finish`);
    if (!told) o.onWait?.(`waiting for ${who}, which holds ${path}`);
    told = true;
    await sleep(pollMs);
  }
}

// Locks this process holds, removed on exit even when it ends without releasing them (exit codes, Ctrl-C).
const heldHere = new Map<string, string>();
let exitHook = false;

function removeOnExit(): void {
  for (const [path, token] of heldHere) {
    try {
      if (parseHolder(readFileSync(path, 'utf8'))?.token === token) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  }
}

function heldLock(path: string, token: string, heartbeatMs: number): HeldLock {
  let lost = false;
  heldHere.set(path, token);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeOnExit);
  }
  let released = false;
  const check = async () => {
    const now = await observe(path).catch(() => undefined);
    if (!now || now.holder?.token !== token) {
      lost = true;
      return;
    }
    const t = new Date();
    await utimes(path, t, t).catch(() => {});
  };
  const timer = setInterval(() => void check(), heartbeatMs);
  timer.unref();
  return {
    path,
    get lost() {
      return lost;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      heldHere.delete(path);
      const now = await observe(path).catch(() => undefined);
      if (now?.holder?.token === token) await rm(path, { force: true });
    },
  };
}

/** Runs `fn` holding the lock at `path`; the lock is released however `fn` ends. */
export async function withLock<T>(
  path: string,
  fn: (lock: HeldLock) => Promise<T>,
  o: LockOptions = {},
): Promise<T> {
  const lock = await acquireLock(path, o);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
