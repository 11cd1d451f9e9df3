/**
 * Test helpers (not part of the CLI): run the built `dist/cli.js` as a child process, or a
 * command module in process with its output captured.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from 'citty';
import type { AnyCommand } from './_commands.js';
import { vi } from 'vitest';
import { makeJpeg, writeTemp } from '@semclip/test-kit/images';
import { hasSharedData, sharedDataDir } from '@semclip/test-kit/shared-data';

// SEMCLIP_CLI runs the spawned tests against another build of the command (e.g. an installed semclip).
export const CLI = process.env.SEMCLIP_CLI ?? fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Real photos shared with the project (see ../shared/data/README.md); never copied into it. */
export const DATA = sharedDataDir();
/**
 * The real 4032x3024 queue_time.jpg; without ../shared (a fresh clone) a generated JPEG of the same
 * size, which is all these tests (random scorer, a fake VLM) need of it.
 */
export const PHOTO = hasSharedData()
  ? join(DATA, 'images/queue_time.jpg')
  : await writeTemp('queue_time-stand-in.jpg', await makeJpeg({ width: 4032, height: 3024, pattern: 'gradient' }));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `unset` removes variables the test must not inherit (an API key, SEMCLIP_VLM...). */
export function semclip(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; unset?: readonly string[] } = {}): Promise<CliResult> {
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const name of options.unset ?? []) delete inherited[name];
  const env = { ...inherited, ...options.env };
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO_ROOT, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'semclip-cli-'));
}

/** Runs a citty command in this process and returns what it wrote to stdout and stderr. */
export async function captureCommand(command: AnyCommand, rawArgs: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await runCommand(command, { rawArgs });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}
