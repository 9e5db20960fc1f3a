import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { UserError } from './errors.js';
import { acquireLock, heldByOsLock, type LockHolder } from './lock.js';
import { packageRoot } from './paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-lock-'));
let n = 0;
const fresh = () => join(scratch, `l${n++}.lock`);
after(() => rmSync(scratch, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const holder = (o: Partial<LockHolder>): string =>
  JSON.stringify({ pid: process.pid, host: hostname(), since: '2024-01-01T00:00:00Z', token: 't', ...o });
const hasFlock = spawnSync('flock', ['--version']).status === 0;

/** Resolves when the promise settles, with the time it took; rejects after `ms`. */
async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t0 };
}

describe('lock files', () => {
  test('a held lock refuses in one line naming pid and host, and is free again after release', async () => {
    const path = fresh();
    const a = await acquireLock(path, { purpose: 'extract' });
    const content = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    assert.equal(content.pid, process.pid);
    assert.equal(content.host, hostname());
    await assert.rejects(acquireLock(path, { wait: false }), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(
        e.message,
        new RegExp(`is locked by pid ${process.pid} on host ${hostname()} \\(extract\\)`),
      );
      return true;
    });
    await a.release();
    assert.ok(!existsSync(path));
    await (await acquireLock(path, { wait: false })).release();
  });

  test('same host: a dead pid is taken over at once, a live one never (however old its heartbeat)', async () => {
    const dead = fresh();
    writeFileSync(dead, holder({ pid: 999999999 }));
    const took = await timed(acquireLock(dead, { wait: false }));
    assert.ok(took.ms < 500);
    await took.value.release();

    const live = fresh();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(live, holder({ pid: child.pid! }));
      const old = new Date(Date.now() - 3600_000);
      utimesSync(live, old, old);
      const lines: string[] = [];
      const waiting = acquireLock(live, { staleMs: 100, pollMs: 20, onWait: (l) => lines.push(l) });
      const outcome = await Promise.race([waiting.then(() => 'taken'), sleep(800).then(() => 'waiting')]);
      assert.equal(outcome, 'waiting');
      assert.match(lines[0] ?? '', new RegExp(`waiting for pid ${child.pid} on host`));
      child.kill();
      await new Promise((r) => child.once('exit', r));
      await (await waiting).release();
    } finally {
      child.kill();
    }
  });

  test("another host: taken over only once its heartbeat has stopped for staleMs (by the waiter's clock)", async () => {
    const path = fresh();
    writeFileSync(path, holder({ host: 'node-elsewhere', pid: 1 }));
    const beat = setInterval(() => {
      const t = new Date();
      utimesSync(path, t, t);
    }, 50);
    const waiting = timed(acquireLock(path, { staleMs: 400, pollMs: 20 }));
    await sleep(1200);
    assert.ok(existsSync(path));
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).host, 'node-elsewhere', 'not taken while it beats');
    clearInterval(beat);
    const { value, ms } = await waiting;
    assert.ok(ms >= 1200 + 300, `taken ${ms} ms after the wait began`);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
    await value.release();
  });

  test('an empty lock (huggingface_hub) is waited for while a process holds it with flock, else taken', async (t) => {
    const path = fresh();
    writeFileSync(path, '');
    assert.equal(heldByOsLock(path), false);
    const quick = await timed(acquireLock(path, { pollMs: 20 }));
    assert.ok(quick.ms >= 900 && quick.ms < 3000, `${quick.ms} ms`);
    await quick.value.release();
    if (!hasFlock) return t.skip('no flock(1) on this machine');
    writeFileSync(path, '');
    const child = spawn('flock', [path, 'sleep', '2.5'], { stdio: 'ignore' });
    await sleep(300);
    assert.equal(heldByOsLock(path), true);
    const held = await timed(acquireLock(path, { pollMs: 20 }));
    assert.ok(held.ms > 1900, `waited ${held.ms} ms for the flock holder`);
    assert.equal(heldByOsLock(path), false);
    await held.value.release();
    child.kill();
  });

  test('a holder whose lock file is replaced knows it lost the lock', async () => {
    const path = fresh();
    const a = await acquireLock(path, { heartbeatMs: 30 });
    writeFileSync(path, holder({ token: 'someone-else' }));
    await sleep(150);
    assert.equal(a.lost, true);
    await a.release();
    assert.ok(existsSync(path), "release leaves the other holder's file alone");
  });

  test('two real processes take turns; a process that exits without releasing leaves no lock', async () => {
    const path = fresh();
    const log = join(scratch, 'turns.log');
    const ready = join(scratch, 'b-ready');
    const script = (id: string) => `
      const { acquireLock } = await import(${JSON.stringify(join(packageRoot(), 'src/util/lock.ts'))});
      const { appendFileSync, existsSync, writeFileSync } = await import('node:fs');
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      if (${JSON.stringify(id)} === 'b') writeFileSync(${JSON.stringify(ready)}, '');
      const lock = await acquireLock(${JSON.stringify(path)}, { pollMs: 20, onWait: (l) => console.error(l) });
      appendFileSync(${JSON.stringify(log)}, 'start ${id}\\n');
      // a holds the lock until b is about to ask for it
      while (${JSON.stringify(id)} === 'a' && !existsSync(${JSON.stringify(ready)})) await sleep(20);
      await sleep(400);
      appendFileSync(${JSON.stringify(log)}, 'end ${id}\\n');
      process.exit(${id === 'a' ? 0 : 3}); // no release: the exit hook removes the file
    `;
    const run = (
      id: string,
    ): { child: ChildProcess; done: Promise<{ code: number | null; err: string }> } => {
      const child = spawn(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script(id)],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr!.on('data', (b) => (err += b));
      return { child, done: new Promise((r) => child.on('close', (code) => r({ code, err }))) };
    };
    const a = run('a');
    const deadline = Date.now() + 60_000;
    while (!existsSync(log) && Date.now() < deadline) await sleep(20);
    const b = run('b');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.err);
    assert.equal(rb.code, 3, rb.err);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['start a', 'end a', 'start b', 'end b']);
    assert.match(rb.err, new RegExp(`waiting for pid ${a.child.pid} on host ${hostname()}`));
    assert.ok(!existsSync(path), 'the exit hook removed the lock');
  });
});
