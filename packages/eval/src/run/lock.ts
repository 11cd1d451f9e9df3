/**
 * One writer per output file. A run that appends to a results or labels file first takes
 * `<file>.lock`, a small JSON file beside it naming the owner (pid, host, start time), created
 * atomically (written under a unique name, then hard-linked into place, which fails if the lock
 * exists; `O_EXCL` where links are not supported). A second writer is refused with
 * `RESULTS_LOCKED` naming the owner. The lock goes when the run ends, on `process.exit`, and on a
 * signal that would end the process anyway (SIGTERM, SIGHUP, SIGINT with no handler of the
 * program's own); a lock left by a process that was killed outright (SIGKILL, a lost machine) is
 * recognised as stale and taken over with a note: on the same host when its pid is gone (or was
 * reused by another process), from another host (or another container under the same host name:
 * Linux locks record the boot id and pid namespace) when its heartbeat (the lock's mtime, touched
 * every 30 s) is older than `staleAfterMs`, or at once with `forceUnlock`.
 *
 * Only `node:` modules: `@semclip/eval` and `@semclip/trainer` (labels) both use it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { SemclipError, sleep } from '@semclip/core';

/** Who holds a lock: what `<file>.lock` holds. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /**
   * Linux: the kernel's boot id and the pid namespace, so two containers (or machines) with one
   * host name, e.g. the retries of a Kubernetes Indexed Job's pod, are not taken for one host.
   */
  readonly machine?: string;
  /** When the lock was taken (ISO 8601). */
  readonly startedAt: string;
  /** Linux: the process's start time (clock ticks since boot, `/proc/<pid>/stat`), so a reused pid is told apart. */
  readonly procStart?: number;
  /** What holds it, e.g. the command line. */
  readonly command?: string;
  /** Unique per lock: a release removes only its own lock. */
  readonly token: string;
}

export interface LockOptions {
  /** Take the lock whoever holds it (a run on another machine that is known to be gone). Default false. */
  readonly forceUnlock?: boolean;
  /** Recorded in the lock for the error a second writer gets, e.g. `semclip eval run ...`. */
  readonly command?: string;
  /**
   * A lock of another host counts as stale once its heartbeat (mtime) is older than this.
   * Default 10 minutes (20 missed heartbeats); `Infinity` never.
   */
  readonly staleAfterMs?: number;
  /** Told when a stale lock (or, with `forceUnlock`, a live one) was taken over. */
  readonly onNote?: (message: string) => void;
}

/** A held lock on one output file. */
export interface OutputLock {
  /** The locked file (absolute). */
  readonly file: string;
  /** The lock file, `<file>.lock`. */
  readonly path: string;
  readonly owner: LockOwner;
  /** The lock this one replaced (stale, or forced), with why; undefined when there was none. */
  readonly replaced?: { readonly owner: LockOwner | null; readonly reason: string };
  /** Removes the lock (only if it is still this one); idempotent. */
  release(): Promise<void>;
}

const HEARTBEAT_MS = 30_000;
const DEFAULT_STALE_AFTER_MS = 10 * 60_000;
/** A lock file without a readable owner younger than this is being written: wait for it. */
const UNREADABLE_GRACE_MS = 5_000;

/** Lock file -> token, for the exit and signal handlers. */
const held = new Map<string, string>();
/**
 * Tokens of this process's takers still inside `lockOutputFile`: a lock one of them has just
 * linked into place is ours before `held` knows it, not a stale lock of an earlier process with
 * our pid (two concurrent takers in one process would otherwise both win).
 */
const taking = new Set<string>();
const EXIT_SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
let handlersInstalled = false;

/** Removes every lock this process holds, synchronously (exit and signal handlers). */
function releaseAllSync(): void {
  for (const [path, token] of held) {
    try {
      if (ownerToken(readFileSync(path, 'utf8')) === token) unlinkSync(path);
    } catch {
      // gone already, or unreadable: nothing of ours to remove
    }
  }
  held.clear();
}

/**
 * On a signal that would end the process (no other listener: Node's default action), remove
 * the locks, then end the process with that signal as it would have. When the program handles
 * the signal itself (the CLI's Ctrl-C cancels the run), the run's own cleanup releases them.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  releaseAllSync();
  removeHandlers();
  process.kill(process.pid, signal);
}
const signalHandlers = new Map(EXIT_SIGNALS.map((s) => [s, () => onSignal(s)] as const));

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', releaseAllSync);
  for (const [signal, handler] of signalHandlers) process.on(signal, handler);
}

function removeHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', releaseAllSync);
  for (const [signal, handler] of signalHandlers) process.off(signal, handler);
}

function ownerToken(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { token?: unknown };
    return typeof v.token === 'string' ? v.token : undefined;
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string' && typeof v.startedAt === 'string') return v as LockOwner;
  } catch {
    // not JSON (yet)
  }
  return null;
}

/** Linux: a process's start time in clock ticks since boot; undefined elsewhere or when it is gone. */
function procStart(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start with field 3, the state; starttime is field 22.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const value = Number(fields[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Linux: `<boot id>/<pid namespace>`: where a pid means this process table. Undefined elsewhere. */
function machineId(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = readlinkSync('/proc/self/ns/pid');
    return `${boot}/${ns}`;
  } catch {
    return undefined;
  }
}

/** Whether a lock's pid can be checked here: the same host name, and the same boot and pid namespace where known. */
function sameHost(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  const here = machineId();
  return owner.machine === undefined || here === undefined || owner.machine === here;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One line naming a lock's owner for messages. */
export function describeLockOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}${owner.command ? ` (${owner.command})` : ''}`;
}

type Verdict = { readonly kind: 'live'; readonly why: string } | { readonly kind: 'stale'; readonly why: string } | { readonly kind: 'wait' };

/** Whether the lock found is held by a live process, was left behind, or is still being written. */
function judge(owner: LockOwner | null, mtimeMs: number, staleAfterMs: number): Verdict {
  const age = Date.now() - mtimeMs;
  if (owner === null) {
    return age < UNREADABLE_GRACE_MS ? { kind: 'wait' } : { kind: 'stale', why: 'it names no owner (a lock file left half-written)' };
  }
  if (!sameHost(owner)) {
    const other = owner.host === hostname() ? `another machine or container named ${owner.host}` : `another host, ${owner.host}`;
    if (age > staleAfterMs) return { kind: 'stale', why: `its heartbeat stopped ${Math.round(age / 60_000)} min ago (${other}, gone?)` };
    return { kind: 'live', why: `held by ${other}; its heartbeat is ${Math.round(age / 1000)} s old` };
  }
  if (owner.pid === process.pid) {
    // Our own pid: this process holds it, or an earlier process with our pid (a restarted container) left it.
    return taking.has(owner.token) || [...held.values()].includes(owner.token)
      ? { kind: 'live', why: 'held by this process' }
      : { kind: 'stale', why: `pid ${owner.pid} is now this process` };
  }
  if (!pidAlive(owner.pid)) return { kind: 'stale', why: `pid ${owner.pid} is no longer running` };
  const now = procStart(owner.pid);
  if (owner.procStart !== undefined && now !== undefined && now !== owner.procStart) {
    return { kind: 'stale', why: `pid ${owner.pid} is now another process` };
  }
  return { kind: 'live', why: `pid ${owner.pid} is running` };
}

function lockedError(file: string, lockPath: string, owner: LockOwner | null, why: string, sameHost: boolean): SemclipError {
  const who = owner ? describeLockOwner(owner) : 'an unknown process';
  return new SemclipError('RESULTS_LOCKED', `${file} is being written by another run: ${who}; ${why}. Two writers would ask every question twice.`, {
    hint: sameHost
      ? `Wait for that run to finish (or stop it${owner ? `: kill ${owner.pid}` : ''}), then rerun this command to resume; to run in parallel give each run its own --out (--shard i/n)`
      : `If that run is gone (its machine was lost), rerun with --force-unlock (forceUnlock: true); otherwise wait for it or choose another --out. The lock is ${lockPath}`,
    details: { path: file, lock: lockPath, ...(owner ? { owner: { ...owner } } : {}) },
  });
}

/** Creates `path` holding `content` only if it does not exist; false if it does. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  // Written whole under a unique name, then linked into place: a reader never sees a half-written lock.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(temp, 'wx');
  try {
    await fh.writeFile(content);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  // A file system without hard links: O_EXCL (a reader may briefly see it empty, and waits).
  let fh2: Awaited<ReturnType<typeof open>>;
  try {
    fh2 = await open(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh2.writeFile(content);
    await fh2.datasync();
  } finally {
    await fh2.close();
  }
  return true;
}

/** The lock as found: its text, owner and mtime; undefined when it is gone. */
async function readLock(path: string): Promise<{ text: string; owner: LockOwner | null; mtimeMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, owner: parseOwner(text), mtimeMs: info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Removes the lock only if it still holds `text`: under a short-lived guard file, so two
 * processes that both found the same stale lock cannot remove each other's new one.
 * False when the guard is busy (try again).
 */
async function removeIfUnchanged(path: string, text: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(guard, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A guard left by a process killed in these few lines: remove it once it is old.
    const info = await stat(guard).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > UNREADABLE_GRACE_MS) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    await fh.close();
    const now = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (now === text) await unlink(path);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** The lock file of an output file: `<file>.lock`. */
export function lockPathFor(file: string): string {
  return `${resolve(file)}.lock`;
}

/**
 * Takes the exclusive lock of an output file (`<file>.lock`) for this process, or throws
 * `RESULTS_LOCKED` naming the process that holds it. A stale lock (see the module comment) is
 * taken over and `onNote` is told. Release it when done; it is also released on exit and on
 * SIGTERM/SIGHUP (and SIGINT when the program does not handle it).
 *
 * @example
 * ```ts
 * const lock = await lockOutputFile('results/vstar.jsonl', { onNote: console.error });
 * try {
 *   // ... append to results/vstar.jsonl
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function lockOutputFile(file: string, options: LockOptions = {}): Promise<OutputLock> {
  const target = resolve(file);
  const path = lockPathFor(target);
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const start = procStart(process.pid);
  const machine = machineId();
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    ...(machine === undefined ? {} : { machine }),
    startedAt: new Date().toISOString(),
    ...(start === undefined ? {} : { procStart: start }),
    ...(options.command ? { command: options.command } : {}),
    token: randomBytes(8).toString('hex'),
  };
  const content = `${JSON.stringify(owner)}\n`;
  await mkdir(dirname(path), { recursive: true });
  let replaced: OutputLock['replaced'];
  let last: { owner: LockOwner | null; why: string } | undefined;
  const deadline = Date.now() + UNREADABLE_GRACE_MS * 2;
  taking.add(owner.token);
  try {
    while (Date.now() < deadline) {
      if (await createExclusive(path, content)) return held_(target, path, owner, replaced);
      const found = await readLock(path);
      if (!found) continue; // released meanwhile
      const verdict = judge(found.owner, found.mtimeMs, staleAfterMs);
      if (verdict.kind === 'wait') {
        await sleep(20);
        continue;
      }
      if (verdict.kind === 'live' && !options.forceUnlock) {
        throw lockedError(target, path, found.owner, verdict.why, found.owner === null || sameHost(found.owner));
      }
      last = { owner: found.owner, why: verdict.why };
      if (!(await removeIfUnchanged(path, found.text))) {
        await sleep(10 + Math.random() * 20);
        continue;
      }
      const reason = verdict.kind === 'stale' ? `stale: ${verdict.why}` : `forced (--force-unlock): ${verdict.why}`;
      replaced = { owner: found.owner, reason };
      options.onNote?.(
        `took over the lock of ${target} from ${found.owner ? describeLockOwner(found.owner) : 'an unknown process'} (${reason}); resuming from what the file holds`,
      );
    }
    // Contention that never settled (many processes taking over one stale lock at once).
    throw lockedError(target, path, last?.owner ?? null, last?.why ?? 'the lock kept changing hands', true);
  } finally {
    taking.delete(owner.token);
  }
}

function held_(file: string, path: string, owner: LockOwner, replaced: OutputLock['replaced']): OutputLock {
  held.set(path, owner.token);
  installHandlers();
  // The heartbeat tells other hosts the lock is alive (their stale check reads the mtime).
  const heartbeat = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    file,
    path,
    owner,
    ...(replaced ? { replaced } : {}),
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      held.delete(path);
      if (held.size === 0) removeHandlers();
      const text = await readFile(path, 'utf8').catch(() => undefined);
      // Someone took it over (--force-unlock): theirs now, leave it.
      if (text !== undefined && ownerToken(text) === owner.token) await unlink(path).catch(() => undefined);
    },
  };
}
