import { link, mkdir, open, readFile, rename, unlink, utimes, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sleep, throwIfAborted } from '@semclip/core';
import { LOCK_NAME } from './_manifest.js';

/**
 * One writer per model folder, across processes: pulls of the same repository take turns
 * so two never append to the same `.partial` file. The holder touches the lock file every few
 * seconds; a lock whose process is gone (same host) or that stopped being touched is stale
 * and is broken.
 */
export interface LockOptions {
  readonly signal?: AbortSignal;
  /** Called once when another process holds the lock and this one starts waiting. */
  readonly onWait?: (holder: LockInfo | undefined) => void;
  readonly pollMs?: number;
  /** A lock not touched for this long is stale (default 30 s; the holder touches it every 5 s). */
  readonly staleMs?: number;
}

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly since: string;
}

export interface HeldLock {
  release(): Promise<void>;
}

const HEARTBEAT_MS = 5_000;

export async function acquireLock(dir: string, options: LockOptions = {}): Promise<HeldLock> {
  await mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, LOCK_NAME);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), since: new Date().toISOString() };
  const pollMs = options.pollMs ?? 100;
  const staleMs = options.staleMs ?? 30_000;
  let waited = false;
  for (;;) {
    throwIfAborted(options.signal);
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readLock(lockPath);
    if (await isStale(lockPath, holder, staleMs)) {
      await breakLock(lockPath, holder);
      continue;
    }
    if (!waited) {
      waited = true;
      options.onWait?.(holder);
    }
    await sleep(pollMs, options.signal);
  }

  const timer = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  timer.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readLock(lockPath);
      if (current?.token === info.token) await unlink(lockPath).catch(() => {});
    },
  };
}

async function readLock(lockPath: string): Promise<LockInfo | undefined> {
  try {
    const json = JSON.parse(await readFile(lockPath, 'utf8')) as LockInfo;
    return typeof json.pid === 'number' && typeof json.token === 'string' ? json : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(lockPath: string, holder: LockInfo | undefined, staleMs: number): Promise<boolean> {
  if (holder && holder.host === os.hostname()) {
    if (!pidAlive(holder.pid)) return true;
  }
  try {
    const s = await stat(lockPath);
    return Date.now() - s.mtimeMs > staleMs;
  } catch {
    return false; // vanished: the next open() will tell
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves the stale lock aside (atomic), then checks it really was the stale one: if another
 * waiter replaced it in between, the fresh lock is put back.
 */
async function breakLock(lockPath: string, stale: LockInfo | undefined): Promise<void> {
  const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(lockPath, aside);
  } catch {
    return;
  }
  const moved = await readLock(aside);
  if (stale && moved && moved.token !== stale.token) {
    await link(aside, lockPath).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}
