/**
 * The on-disk cache of frozen embeddings: one append-only file per base model
 * (`<cacheDir>/embeddings/<model hash>/vectors.bin`, with `model.json` saying which model), so a
 * second training run on the same labels (other hyperparameters, more epochs) costs only the head.
 *
 * Record: 32-byte key (sha256 of what was embedded), uint32 LE dim, dim float32 LE, uint32 LE
 * CRC-32 of everything before it. Opening reads every record into memory and truncates the file at
 * the first torn or damaged record (a crash mid-append), so the cache never serves bad vectors.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, truncate, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SemclipError } from '@semclip/core';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * sha256 of the parts, joined by NUL: a cache key.
 *
 * @example
 * ```ts
 * embeddingKey('tile', imageHash, '2x2', '3');
 * ```
 */
export function embeddingKey(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export interface EmbeddingStore {
  readonly dir: string;
  readonly size: number;
  /** Bytes of a damaged tail dropped when the store was opened. */
  readonly droppedBytes: number;
  get(key: string): Float32Array | undefined;
  /** Adds a vector (buffered; `flush` writes and syncs). */
  put(key: string, vector: Float32Array): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) the store for one model key.
 *
 * @example
 * ```ts
 * const store = await openEmbeddingStore(cacheDir, base.info.modelKey);
 * const key = embeddingKey('tile', imageHash, gridKey, '0');
 * const v = store.get(key) ?? (store.put(key, computed), computed);
 * await store.close();
 * ```
 */
export async function openEmbeddingStore(cacheDir: string, modelKey: string): Promise<EmbeddingStore> {
  const dir = path.join(cacheDir, 'embeddings', embeddingKey('model', modelKey).slice(0, 24));
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'vectors.bin');
  await writeFile(path.join(dir, 'model.json'), `${JSON.stringify({ schema: 1, modelKey }, null, 2)}\n`);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SemclipError('INTERNAL', `Cannot read the embedding cache ${file}: ${(cause as Error).message}.`, {
        cause,
        hint: 'Delete the folder to rebuild the cache',
      });
    }
    buf = Buffer.alloc(0);
  }
  const map = new Map<string, Float32Array>();
  let off = 0;
  while (off + 40 <= buf.length) {
    const dim = buf.readUInt32LE(off + 32);
    const end = off + 36 + dim * 4 + 4;
    if (dim === 0 || dim > 65536 || end > buf.length) break;
    if (crc32(buf.subarray(off, end - 4)) !== buf.readUInt32LE(end - 4)) break;
    const key = buf.subarray(off, off + 32).toString('hex');
    const v = new Float32Array(dim);
    for (let i = 0; i < dim; i++) v[i] = buf.readFloatLE(off + 36 + i * 4);
    map.set(key, v);
    off = end;
  }
  const droppedBytes = buf.length - off;
  if (droppedBytes > 0) await truncate(file, off);
  let fh: FileHandle | undefined = await open(file, 'a');
  let pending: Buffer[] = [];
  const flush = async (): Promise<void> => {
    if (!fh || pending.length === 0) return;
    const chunk = Buffer.concat(pending);
    pending = [];
    await fh.write(chunk);
    await fh.datasync();
  };
  return {
    dir,
    get size() {
      return map.size;
    },
    droppedBytes,
    get: (key) => map.get(key),
    put(key, vector) {
      if (map.has(key)) return;
      map.set(key, vector);
      const rec = Buffer.alloc(36 + vector.length * 4 + 4);
      Buffer.from(key, 'hex').copy(rec, 0);
      rec.writeUInt32LE(vector.length, 32);
      for (let i = 0; i < vector.length; i++) rec.writeFloatLE(vector[i]!, 36 + i * 4);
      rec.writeUInt32LE(crc32(rec.subarray(0, rec.length - 4)), rec.length - 4);
      pending.push(rec);
    },
    flush,
    async close() {
      await flush();
      await fh?.close();
      fh = undefined;
    },
  };
}
