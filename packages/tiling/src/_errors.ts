import { SemclipError } from '@semclip/core';

/**
 * Whether the bytes end where their format says a file ends. Decoders report a cut-off file
 * and a damaged one with similar messages (libpng says "read error" for both), so the missing
 * end marker is the reliable sign of truncation.
 */
export function looksTruncated(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    // JPEG ends with EOI (FF D9); tolerate a little trailing padding some cameras add.
    for (let i = n - 2; i >= Math.max(2, n - 1024); i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return false;
    return true;
  }
  if (n >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const tail = Buffer.from(bytes.subarray(Math.max(0, n - 64))).toString('latin1');
    return !tail.includes('IEND');
  }
  if (n >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return bytes[n - 1] !== 0x3b;
  if (n >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF') {
    const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true) + 8;
    return declared > n;
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
 * `bytes` (when the encoded file is at hand) lets truncation be told apart from corruption.
 */
export function decodeError(label: string, err: unknown, bytes?: Uint8Array): SemclipError {
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
  if (bytes && looksTruncated(bytes)) {
    return new SemclipError('IMAGE_TRUNCATED', `${label} is truncated: the file ends before the image data does (${message}).`, {
      cause: err,
      hint: 'The file was probably cut off during download or copy; fetch or copy it again',
      details,
    });
  }
  if (/premature end|truncat|unexpected end|end of file|not enough data/i.test(message) && !/corrupt jpeg data/i.test(message) && !bytes) {
    return new SemclipError('IMAGE_TRUNCATED', `${label} is truncated (${message}).`, {
      cause: err,
      hint: 'The file was probably cut off during download or copy; fetch or copy it again',
      details,
    });
  }
  return new SemclipError('IMAGE_CORRUPT', `${label} is damaged and cannot be decoded (${message.trim() || 'unknown decoder error'}).`, {
    cause: err,
    hint:
      "Re-export or re-download the image; if it opens elsewhere with glitches you accept, pass failOn: 'truncated' (decode despite damaged data) or re-save it as PNG or JPEG",
    details,
  });
}
