import { spawn } from 'node:child_process';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { lockOutputFile, lockPathFor, type LockOwner } from './lock.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('semclip-lock-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const newFile = () => join(dir, `out-${++n}.jsonl`);
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A pid that was just used and is gone. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

async function writeLock(file: string, owner: Partial<LockOwner>): Promise<string> {
  const path = lockPathFor(file);
  await writeFile(path, `${JSON.stringify({ pid: 1, host: hostname(), startedAt: '2024-01-01T00:00:00.000Z', token: 'someone', ...owner })}\n`);
  return path;
}

describe('lockOutputFile', () => {
  it('refuses a second writer of one file with RESULTS_LOCKED naming the owner, until the first releases it', async () => {
    const file = newFile();
    const lock = await lockOutputFile(file, { command: 'semclip eval run --out x' });
    expect(lock.path).toBe(`${file}.lock`);
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), command: 'semclip eval run --out x' });
    const second = lockOutputFile(file);
    await expect(second).rejects.toMatchObject({
      code: 'RESULTS_LOCKED',
      message: expect.stringContaining(`${file} is being written by another run: pid ${process.pid} on ${hostname()}`),
      hint: expect.stringContaining('its own --out'),
      details: { path: file, lock: lock.path, owner: { pid: process.pid } },
    });
    await lock.release();
    expect(await exists(lock.path)).toBe(false);
    const again = await lockOutputFile(file);
    expect(again.replaced).toBeUndefined();
    await again.release();
  });

  it('lets exactly one of many concurrent takers win', async () => {
    const file = newFile();
    const tries = await Promise.allSettled(Array.from({ length: 8 }, () => lockOutputFile(file)));
    const won = tries.filter((t) => t.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const t of tries) if (t.status === 'rejected') expect(t.reason).toMatchObject({ code: 'RESULTS_LOCKED' });
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockOutputFile>>>).value.release();
  });

  it('takes over a lock whose process is gone (same host), with a note naming it', async () => {
    const file = newFile();
    const pid = await deadPid();
    await writeLock(file, { pid });
    const notes: string[] = [];
    const lock = await lockOutputFile(file, { onNote: (m) => notes.push(m) });
    expect(lock.replaced).toMatchObject({ owner: { pid }, reason: `stale: pid ${pid} is no longer running` });
    expect(notes).toEqual([expect.stringContaining(`took over the lock of ${file} from pid ${pid} on ${hostname()}`)]);
    expect(JSON.parse(await readFile(lock.path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('lets exactly one of many concurrent takers win a stale lock', async () => {
    const file = newFile();
    await writeLock(file, { pid: await deadPid() });
    const tries = await Promise.allSettled(Array.from({ length: 8 }, () => lockOutputFile(file)));
    expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
    await (tries.find((t) => t.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof lockOutputFile>>>).value.release();
  });

  it('treats a lock of a live process as live, and one of a reused pid (another start time) as stale', async () => {
    const file = newFile();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const path = await writeLock(file, { pid: child.pid as number });
      await expect(lockOutputFile(file)).rejects.toMatchObject({ code: 'RESULTS_LOCKED', hint: expect.stringContaining(`kill ${child.pid}`) });
      if (process.platform === 'linux') {
        await writeLock(file, { pid: child.pid as number, procStart: 1 });
        const lock = await lockOutputFile(file);
        expect(lock.replaced?.reason).toBe(`stale: pid ${child.pid} is now another process`);
        await lock.release();
      }
      await rm(path, { force: true });
    } finally {
      child.kill();
    }
  });

  it("treats a lock with this process's pid that this process does not hold as stale (a restarted container)", async () => {
    const file = newFile();
    await writeLock(file, { pid: process.pid, token: 'previous-incarnation' });
    const lock = await lockOutputFile(file);
    expect(lock.replaced?.reason).toBe(`stale: pid ${process.pid} is now this process`);
    await lock.release();
  });

  it.runIf(process.platform === 'linux')(
    'does not check the pid of a lock from another container under the same host name (a retried Indexed Job pod)',
    async () => {
      const file = newFile();
      await writeLock(file, { pid: await deadPid(), machine: 'another-boot-id/pid:[4026531836]' });
      await expect(lockOutputFile(file)).rejects.toMatchObject({
        code: 'RESULTS_LOCKED',
        message: expect.stringContaining(`held by another machine or container named ${hostname()}`),
        hint: expect.stringContaining('--force-unlock'),
      });
      await rm(lockPathFor(file));
    },
  );

  it("refuses another host's lock unless forced, and takes it once its heartbeat is older than staleAfterMs", async () => {
    const file = newFile();
    const path = await writeLock(file, { pid: 4242, host: 'node-7' });
    await expect(lockOutputFile(file)).rejects.toMatchObject({
      code: 'RESULTS_LOCKED',
      message: expect.stringContaining('pid 4242 on node-7'),
      hint: expect.stringContaining('--force-unlock'),
    });
    const notes: string[] = [];
    const forced = await lockOutputFile(file, { forceUnlock: true, onNote: (m) => notes.push(m) });
    expect(forced.replaced?.reason).toMatch(/^forced \(--force-unlock\): held by another host, node-7/);
    expect(notes).toHaveLength(1);
    await forced.release();

    await writeLock(file, { pid: 4242, host: 'node-7' });
    const old = new Date(Date.now() - 3_600_000);
    await utimes(path, old, old);
    const lock = await lockOutputFile(file, { staleAfterMs: 600_000 });
    expect(lock.replaced?.reason).toMatch(/^stale: its heartbeat stopped 60 min ago/);
    await lock.release();
  });

  it('never removes a lock another run took over (--force-unlock) on release', async () => {
    const file = newFile();
    const first = await lockOutputFile(file);
    await writeLock(file, { pid: 4242, host: 'node-7', token: 'theirs' });
    await first.release();
    expect(JSON.parse(await readFile(lockPathFor(file), 'utf8')).token).toBe('theirs');
    await rm(lockPathFor(file));
  });

  describe('in a process that ends', () => {
    const dist = pathToFileURL(join(import.meta.dirname, '../../dist/index.js')).href;
    /** Runs a node process that takes the lock, says so, then (when told) does `then`; resolves with how it ended. */
    async function holder(file: string, then: string): Promise<{ ended: string | number | null }> {
      const script = `const { lockOutputFile } = await import(${JSON.stringify(dist)}); await lockOutputFile(${JSON.stringify(file)}); console.log('locked'); process.stdin.once('data', () => { ${then} });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => String(d).includes('locked') && resolve());
        child.on('exit', (code) => reject(new Error(`holder exited ${code} before locking`)));
      });
      expect(await exists(lockPathFor(file))).toBe(true);
      const ended = new Promise<string | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      child.stdin.write('go\n');
      return { ended: await ended };
    }

    it('releases the lock on process.exit and on SIGTERM (ending with that signal), keeps it on SIGKILL for the next run to take over', async () => {
      const exited = newFile();
      expect((await holder(exited, 'process.exit(3);')).ended).toBe(3);
      expect(await exists(lockPathFor(exited))).toBe(false);

      const termed = newFile();
      expect((await holder(termed, 'process.kill(process.pid, "SIGTERM");')).ended).toBe('SIGTERM');
      expect(await exists(lockPathFor(termed))).toBe(false);

      const killed = newFile();
      expect((await holder(killed, 'process.kill(process.pid, "SIGKILL");')).ended).toBe('SIGKILL');
      expect(await exists(lockPathFor(killed))).toBe(true);
      const lock = await lockOutputFile(killed);
      expect(lock.replaced?.reason).toMatch(/^stale: pid \d+ is no longer running$/);
      await lock.release();
    });
  });
});
