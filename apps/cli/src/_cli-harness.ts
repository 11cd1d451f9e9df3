/** Test helper (not part of the CLI): runs the built `dist/cli.js` as a child process. */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Real photos shared with the project (see ../shared/data/README.md); never copied into it. */
export const DATA = join(REPO_ROOT, '../shared/data');
export const PHOTO = join(DATA, 'images/queue_time.jpg');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function semclip(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'semclip-cli-'));
}
