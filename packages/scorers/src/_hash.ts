import { createHash } from 'node:crypto';

/** 32-bit seed from any strings, stable across runs and platforms. */
export function seedFrom(...parts: readonly (string | number)[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUInt32LE(0);
}
