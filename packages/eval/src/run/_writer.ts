import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

interface Pending {
  readonly data: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Appends lines to a file durably: each `append` resolves once its bytes are written and
 * `fdatasync`ed. Appends that arrive while a sync runs are written together afterwards
 * (group commit), so concurrency does not mean one sync per line. One `append` is one
 * `write` call, so a process killed between calls leaves whole batches; a crash mid-write
 * can leave at most a partial last line, which the reader detects and the runner drops.
 */
export class AppendWriter {
  private queue: Pending[] = [];
  private flushing = false;
  private failed: unknown;

  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<AppendWriter> {
    return new AppendWriter(await open(path, 'a'));
  }

  append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const data = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const data = batch.length === 1 ? (batch[0] as Pending).data : Buffer.concat(batch.map((p) => p.data));
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await this.fh.write(data, off, data.length - off);
          off += bytesWritten;
        }
        await this.fh.datasync();
        for (const p of batch) p.resolve();
      } catch (err) {
        this.failed = err;
        for (const p of [...batch, ...this.queue]) p.reject(err);
        this.queue = [];
      }
    }
    this.flushing = false;
  }

  async close(): Promise<void> {
    while (this.flushing) await new Promise((r) => setImmediate(r));
    await this.fh.close();
  }
}
