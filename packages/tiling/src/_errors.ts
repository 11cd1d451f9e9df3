import { open } from 'node:fs/promises';
import { SemclipError } from '@semclip/core';

/** The first and last bytes of an encoded file and its length: enough to sniff and spot truncation. */
export interface FileEnds {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
  readonly length: number;
}

const HEAD = 64;
const TAIL = 1024;

export function endsOf(bytes: Uint8Array): FileEnds {
  return { head: bytes.subarray(0, HEAD), tail: bytes.subarray(Math.max(0, bytes.length - TAIL)), length: bytes.length };
}

/** Reads the ends of a file (only after a decode failed); undefined if it cannot be read. */
export async function readEnds(path: string): Promise<FileEnds | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(Math.min(HEAD, size));
      await fh.read(head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(TAIL, size));
      await fh.read(tail, 0, tail.length, size - tail.length);
      return { head, tail, length: size };
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Whether a file ends where its format says a file ends. Decoders report a cut-off file and a
 * damaged one with similar messages (libpng says "read error" for both), so the missing end
 * marker is the reliable sign of truncation.
 */
export function looksTruncated({ head, tail, length }: FileEnds): boolean {
  const t = tail.length;
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    // JPEG ends with EOI (FF D9); tolerate a little trailing padding some cameras add.
    for (let i = t - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return false;
    return true;
  }
  if (head.length >= 8 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) {
    return !Buffer.from(tail.subarray(Math.max(0, t - 64)))
      .toString('latin1')
      .includes('IEND');
  }
  if (head.length >= 6 && head[0] === 0x47 && head[1] === 0x49 && head[2] === 0x46) return tail[t - 1] !== 0x3b;
  if (head.length >= 12 && Buffer.from(head.subarray(0, 4)).toString('latin1') === 'RIFF') {
    const declared = new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true) + 8;
    return declared > length;
  }
  return false;
}

/** Reads width and height from a PNG IHDR, to tell a zero-size PNG from a damaged one. */
export function pngHeaderSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24 || bytes[0] !== 0x89 || bytes[1] !== 0x50 || bytes[12] !== 0x49 || bytes[13] !== 0x48) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 24);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

export function fileSizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/**
 * Turns a decoder (sharp/libvips) failure into the matching typed error, naming the image.
 * The file's ends (when at hand) let truncation be told apart from corruption.
 */
export function decodeError(label: string, err: unknown, ends?: FileEnds): SemclipError {
  if (err instanceof SemclipError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const details = { file: label, decoder: message };
  if (/unsupported image format/i.test(message)) {
    return new SemclipError('IMAGE_UNSUPPORTED', `${label} is not an image format SemClip can read.`, {
      cause: err,
      expected: 'a JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF or SVG file',
      hint: 'Convert it to JPEG or PNG first, or check that the path points at the image and not at another file',
      details,
    });
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new SemclipError('IMAGE_TOO_LARGE', `${label} has more pixels than the decoder allows.`, {
      cause: err,
      hint: 'Downscale the image first, or raise maxPixels (--max-pixels) if you trust the file',
      details,
    });
  }
  if (ends && looksTruncated(ends)) {
    return new SemclipError('IMAGE_TRUNCATED', `${label} is truncated: the file ends before the image data does (${message}).`, {
      cause: err,
      hint: 'The file was probably cut off during download or copy; fetch or copy it again',
      details,
    });
  }
  if (/premature end|truncat|unexpected end|end of file|not enough data/i.test(message) && !/corrupt jpeg data/i.test(message) && !ends) {
    return new SemclipError('IMAGE_TRUNCATED', `${label} is truncated (${message}).`, {
      cause: err,
      hint: 'The file was probably cut off during download or copy; fetch or copy it again',
      details,
    });
  }
  return new SemclipError('IMAGE_CORRUPT', `${label} is damaged and cannot be decoded (${message.trim() || 'unknown decoder error'}).`, {
    cause: err,
    hint: "Re-export or re-download the image; if it opens elsewhere with glitches you accept, pass failOn: 'truncated' (decode despite damaged data) or re-save it as PNG or JPEG",
    details,
  });
}
