import { SemclipError } from '@semclip/core';
import type { ResolvedServerConfig } from './_config.js';
import { fetchRemoteImage } from './_remote.js';

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(text: string, param: string): Uint8Array {
  const clean = text.includes('\n') || text.includes('\r') || text.includes(' ') ? text.replace(/\s+/g, '') : text;
  if (!BASE64.test(clean)) {
    throw new SemclipError('INVALID_ARGUMENT', `"${param}" is not base64 (or a data: URL).`, {
      expected: "the image file's bytes in base64, or data:image/jpeg;base64,...",
      details: { param },
    });
  }
  const bytes = Buffer.from(clean, 'base64');
  if (bytes.length === 0) {
    throw new SemclipError('IMAGE_EMPTY', `"${param}" holds no bytes.`, { expected: 'an image file in base64', details: { param } });
  }
  return bytes;
}

/** The bytes of a `data:` URL; only base64 payloads (every image client sends those). */
export function decodeDataUrl(url: string, param: string): Uint8Array {
  const comma = url.indexOf(',');
  const header = comma > 0 ? url.slice(5, comma) : '';
  if (comma < 0 || !/;base64$/i.test(header)) {
    throw new SemclipError('INVALID_ARGUMENT', `"${param}" is a data: URL without a base64 payload.`, {
      expected: 'data:image/<type>;base64,<bytes>',
      details: { param },
    });
  }
  const mime = header.slice(0, -';base64'.length).toLowerCase();
  if (mime && !mime.startsWith('image/') && mime !== 'application/octet-stream') {
    throw new SemclipError('IMAGE_UNSUPPORTED', `"${param}" is a data: URL of type ${mime}, not an image.`, {
      expected: 'data:image/jpeg, image/png, image/webp...',
      details: { param },
    });
  }
  return decodeBase64(url.slice(comma + 1), param);
}

/** True for URLs the server would have to download. */
export function isRemoteUrl(url: string): boolean {
  return !url.startsWith('data:');
}

/**
 * The image bytes of a request: base64 (`image`), a data URL (`image` or `image_url`), or an
 * http(s) URL when remote images are allowed (downloaded with the SSRF checks of `_remote.ts`).
 */
export async function imageBytesOf(
  fields: { image?: string | undefined; image_url?: string | undefined },
  config: ResolvedServerConfig,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const given = [fields.image, fields.image_url].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new SemclipError('INVALID_ARGUMENT', given === 0 ? 'The request has no image.' : 'The request has both "image" and "image_url".', {
      expected: 'exactly one of "image" (base64 or a data: URL) or "image_url", or a multipart "image" file',
      details: { param: 'image' },
    });
  }
  if (fields.image !== undefined) {
    return fields.image.startsWith('data:') ? decodeDataUrl(fields.image, 'image') : decodeBase64(fields.image, 'image');
  }
  return imageFromUrl(fields.image_url as string, 'image_url', config, signal);
}

/** A data URL's bytes, or a download when allowed; a remote URL is refused (400) otherwise. */
export async function imageFromUrl(url: string, param: string, config: ResolvedServerConfig, signal: AbortSignal): Promise<Uint8Array> {
  if (!isRemoteUrl(url)) return decodeDataUrl(url, param);
  if (!/^https?:\/\//i.test(url)) {
    throw new SemclipError('INVALID_ARGUMENT', `"${param}" must be a data: URL${config.allowRemoteImages ? ' or an http(s) URL' : ''}.`, {
      details: { param },
    });
  }
  if (!config.allowRemoteImages) {
    throw new SemclipError('INVALID_ARGUMENT', 'Remote image URLs are disabled on this server.', {
      expected: 'the image inline, as a data:image/...;base64 URL',
      hint: 'Send the image bytes, or start the server with --allow-remote-images',
      details: { param },
    });
  }
  return fetchRemoteImage(url, config.remoteImages, signal);
}
