import { SemclipError } from '@semclip/core';
import type { Tile, TileSource } from '@semclip/core';
import sharp from 'sharp';

export interface OverlayOptions {
  /** One score per tile (aligned with `source.grid.tiles`): paints a heat map and labels. */
  readonly scores?: readonly number[];
  /** Tile indices to outline as selected. */
  readonly selected?: readonly number[];
  /** Long side of the rendered image (the picture is never enlarged). Default 1600. */
  readonly maxSide?: number;
  /**
   * Text for the header band, e.g. the question. Text after a newline is a caption, drawn in
   * smaller type under it (e.g. the scorer's account of what it read and matched).
   */
  readonly title?: string;
}

/** Colour stops of the heat ramp (low -> high): deep indigo, teal, green-yellow, orange, red. */
const RAMP: ReadonlyArray<readonly [number, number, number]> = [
  [48, 18, 120],
  [33, 145, 140],
  [144, 215, 67],
  [253, 174, 50],
  [230, 40, 40],
];

export function rampColour(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  const c = [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function formatScore(v: number, decimals: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 1e5 ? v.toExponential(2) : v.toFixed(decimals);
}

/**
 * Decimals that give the largest score 3 significant digits (0.0177, 0.677, 5.30, 53.0, 530),
 * the same for every tile so the labels line up; at most 6.
 */
function decimalsFor(values: readonly number[]): number {
  const m = Math.max(0, ...values.map(Math.abs));
  if (m === 0) return 0;
  return Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(m))));
}

/** The score labels the overlay draws: 3 significant digits for the largest, 0 as "0". */
export function scoreLabels(values: readonly number[]): string[] {
  const decimals = decimalsFor(values);
  return values.map((v) => formatScore(v, decimals));
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * The selection glow as [half-width, opacity] of concentric strokes, in units of `unit`: their
 * opacities stack (1 - product of (1 - a)) to the profile a 0.7-opacity stroke 1.6x the outline
 * wide blurred with sigma unit/4 would have, sampled every 0.1 unit from the outline's edge. It
 * looks the same as that `feGaussianBlur` but costs librsvg a few ms instead of ~250 ms (a blur
 * filter is rasterised over its whole region at 1600 px).
 */
const GLOW: ReadonlyArray<readonly [number, number]> = [
  [0.3, 0.153],
  [0.4, 0.131],
  [0.5, 0.098],
  [0.6, 0.064],
  [0.7, 0.037],
  [0.8, 0.018],
  [0.9, 0.012],
];

const CHAR_WIDTH = 0.62;

function pillWidth(text: string, size: number): number {
  return Math.ceil(text.length * size * CHAR_WIDTH + size * 0.9);
}

/** The largest font size up to `size` at which `text` fits a pill `maxW` wide (0 if under 7 px). */
function fitSize(text: string, size: number, maxW: number, maxH: number): number {
  const byW = maxW / (text.length * CHAR_WIDTH + 0.9);
  const f = Math.floor(Math.min(size, byW, maxH / 1.45));
  return f >= 7 ? f : 0;
}

/** A label on a dark rounded pill, anchored at (x, y) top-left (or centred when `centre`). */
function pill(x: number, y: number, text: string, size: number, opts: { centre?: boolean; right?: boolean; fill?: string; weight?: number } = {}): string {
  const w = pillWidth(text, size);
  const h = Math.ceil(size * 1.45);
  const left = opts.centre ? x - w / 2 : opts.right ? x - w : x;
  const top = opts.centre ? y - h / 2 : y;
  return (
    `<rect x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${w}" height="${h}" rx="${(h / 2).toFixed(1)}" fill="${opts.fill ?? 'rgba(12,14,22,0.72)'}"/>` +
    `<text x="${(left + w / 2).toFixed(1)}" y="${(top + h / 2).toFixed(1)}" font-family="${FONT}" font-size="${size}" font-weight="${opts.weight ?? 600}" fill="#fff" text-anchor="middle" dominant-baseline="central">${esc(text)}</text>`
  );
}

/**
 * Renders the image with its grid for people: grid lines, tile numbers and, when given, a heat
 * map of per-tile scores (indigo = low, red = high, with the score on each tile), the selected
 * tiles outlined, and a header with the title and the colour scale. Returns PNG bytes.
 *
 * @example
 * ```ts
 * const png = await renderOverlay(image, { scores: [0.1, 0.7, 0.2, 0.05], selected: [1], title: 'What does the sign say?' });
 * await writeFile('overlay.png', png);
 * ```
 */
export async function renderOverlay(source: TileSource, options: OverlayOptions = {}): Promise<Uint8Array> {
  const { grid } = source;
  const tiles = grid.tiles;
  const maxSide = options.maxSide ?? 1600;
  if (!Number.isInteger(maxSide) || maxSide < 16 || maxSide > 16384) {
    throw new SemclipError('INVALID_ARGUMENT', `maxSide ${String(maxSide)} is not valid.`, { expected: 'an integer from 16 to 16384' });
  }
  const scores = options.scores;
  if (scores !== undefined && (scores.length !== tiles.length || scores.some((s) => typeof s !== 'number' || !Number.isFinite(s)))) {
    throw new SemclipError('INVALID_ARGUMENT', `Overlay needs one finite score per tile (${tiles.length}), got ${scores.length}.`, {
      expected: 'scores aligned with grid.tiles',
    });
  }
  const selected = new Set(options.selected ?? []);
  for (const i of selected) {
    if (!Number.isInteger(i) || i < 0 || i >= tiles.length) {
      throw new SemclipError('INVALID_ARGUMENT', `Selected tile ${String(i)} is out of range.`, { expected: `indices from 0 to ${tiles.length - 1}` });
    }
  }

  const { width: W, height: H } = source.size;
  const scale = Math.min(1, maxSide / Math.max(W, H));
  const w = Math.max(1, Math.round(W * scale));
  const h = Math.max(1, Math.round(H * scale));

  const unit = Math.max(11, Math.round(Math.min(w, h) / 42));
  const hasHeader = options.title !== undefined || scores !== undefined;
  const [titleLine, ...captionLines] = (options.title ?? '').split('\n');
  const caption = captionLines.join(' ').replace(/\s+/g, ' ').trim();
  const header = hasHeader ? Math.round(unit * (caption ? 3.8 : 2.6)) : 0;
  const sx = w / W;
  const sy = h / H;
  const rect = (t: Tile) => ({
    x: t.box.x * sx,
    y: header + t.box.y * sy,
    w: t.box.width * sx,
    h: t.box.height * sy,
  });

  const maxLevel = Math.max(...tiles.map((t) => t.level));
  const heatTiles = tiles.filter((t) => t.level === maxLevel);
  let lo = 0;
  let hi = 1;
  if (scores) {
    const vals = heatTiles.map((t) => scores[t.index]!);
    lo = Math.min(...vals);
    hi = Math.max(...vals);
  }
  const norm = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);

  const parts: string[] = [];

  // Heat map: tint each tile with its ramp colour and dim the low ones, so the eye goes to the
  // relevant tiles while the picture stays readable.
  if (scores) {
    for (const t of heatTiles) {
      const r = rect(t);
      const v = norm(scores[t.index]!);
      parts.push(
        `<rect x="${r.x.toFixed(1)}" y="${r.y.toFixed(1)}" width="${r.w.toFixed(1)}" height="${r.h.toFixed(1)}" fill="#000" fill-opacity="${(0.5 * (1 - v)).toFixed(3)}"/>`,
        `<rect x="${r.x.toFixed(1)}" y="${r.y.toFixed(1)}" width="${r.w.toFixed(1)}" height="${r.h.toFixed(1)}" fill="${rampColour(v)}" fill-opacity="${(0.3 - 0.12 * v).toFixed(3)}"/>`,
      );
    }
  }

  // Grid lines: a dark line under a light one reads on bright and dark photos alike.
  for (const level of [...new Set(tiles.map((t) => t.level))].sort((a, b) => b - a)) {
    const width = level === 1 ? Math.max(2, unit / 5) : Math.max(1, unit / 9);
    const dash = level === 1 ? '' : ` stroke-dasharray="${(unit / 2).toFixed(1)} ${(unit / 3).toFixed(1)}"`;
    for (const t of tiles.filter((x) => x.level === level)) {
      const r = rect(t);
      const inset = width / 2;
      const box = `x="${(r.x + inset).toFixed(1)}" y="${(r.y + inset).toFixed(1)}" width="${Math.max(0, r.w - 2 * inset).toFixed(1)}" height="${Math.max(0, r.h - 2 * inset).toFixed(1)}"`;
      parts.push(
        `<rect ${box} fill="none" stroke="rgba(0,0,0,0.55)" stroke-width="${(width * 2.2).toFixed(1)}"${dash}/>`,
        `<rect ${box} fill="none" stroke="rgba(255,255,255,0.9)" stroke-width="${width.toFixed(1)}"${dash}/>`,
      );
    }
  }

  // Selected tiles: a bright outline with a soft glow, and a tag.
  for (const i of [...selected].sort((a, b) => a - b)) {
    const r = rect(tiles[i]!);
    const sw = Math.max(3, unit / 2.5);
    const box = `x="${(r.x + sw / 2).toFixed(1)}" y="${(r.y + sw / 2).toFixed(1)}" width="${Math.max(0, r.w - sw).toFixed(1)}" height="${Math.max(0, r.h - sw).toFixed(1)}"`;
    for (const [half, opacity] of GLOW) {
      parts.push(
        `<rect ${box} fill="none" stroke="#00e5ff" stroke-width="${(2 * half * unit).toFixed(1)}" stroke-opacity="${opacity}" stroke-linejoin="round"/>`,
      );
    }
    parts.push(`<rect ${box} fill="none" stroke="#00e5ff" stroke-width="${sw.toFixed(1)}"/>`);
    const tag = fitSize('selected', unit * 0.9, r.w * 0.45, r.h * 0.2);
    if (tag) parts.push(pill(r.x + r.w - sw * 1.5, r.y + sw * 1.5, 'selected', tag, { right: true, fill: 'rgba(0,150,170,0.92)' }));
  }

  // Labels: tile numbers top-left; scores in the middle of the heat tiles, each only where it fits.
  const labelSize = Math.round(unit * 0.85);
  const decimals = scores ? decimalsFor(heatTiles.map((t) => scores[t.index]!)) : 2;
  for (const t of tiles) {
    if (t.level !== 1 && t.level !== maxLevel) continue;
    const r = rect(t);
    const text = t.level === 1 ? `#${t.index}` : `${t.index}`;
    const size = fitSize(text, t.level === 1 ? labelSize : Math.round(labelSize * 0.7), r.w * 0.3, r.h * 0.18);
    if (!size) continue;
    const off = t.level === 1 ? unit * 0.6 : unit * 0.35;
    // Level-2 numbers sit bottom-left so they do not collide with their parent's number.
    const y = t.level === 1 ? r.y + off : r.y + r.h - off - size * 1.45;
    parts.push(pill(r.x + off, y, text, size, t.level === 1 ? {} : { fill: 'rgba(12,14,22,0.55)', weight: 500 }));
  }
  if (scores) {
    for (const t of heatTiles) {
      const r = rect(t);
      const text = formatScore(scores[t.index]!, decimals);
      const size = fitSize(text, unit * 1.5, r.w * 0.7, r.h * 0.3);
      if (!size) continue;
      parts.push(pill(r.x + r.w / 2, r.y + r.h / 2, text, size, { centre: true, fill: 'rgba(12,14,22,0.66)', weight: 700 }));
    }
  }

  // Header: title on the left, colour scale on the right.
  if (hasHeader) {
    parts.unshift(`<rect x="0" y="0" width="${w}" height="${header}" fill="#15171f"/>`);
    let legendWidth = 0;
    if (scores) {
      const barW = Math.round(Math.min(w * 0.28, unit * 14));
      const barH = Math.round(unit * 0.7);
      const x0 = w - barW - unit * 5;
      const y0 = Math.round((header - barH) / 2);
      const stops = RAMP.map((_, k) => `<stop offset="${(k / (RAMP.length - 1)).toFixed(2)}" stop-color="${rampColour(k / (RAMP.length - 1))}"/>`).join('');
      parts.push(
        `<linearGradient id="ramp" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient>`,
        `<rect x="${x0}" y="${y0}" width="${barW}" height="${barH}" rx="${(barH / 2).toFixed(1)}" fill="url(#ramp)"/>`,
        `<text x="${x0 - unit * 0.5}" y="${header / 2}" font-family="${FONT}" font-size="${labelSize}" fill="#c8cbd6" text-anchor="end" dominant-baseline="central">${esc(formatScore(lo, decimals))}</text>`,
        `<text x="${x0 + barW + unit * 0.5}" y="${header / 2}" font-family="${FONT}" font-size="${labelSize}" fill="#c8cbd6" dominant-baseline="central">${esc(formatScore(hi, decimals))}</text>`,
      );
      legendWidth = barW + unit * 10;
    }
    const title = options.title === undefined ? `${grid.rows}x${grid.cols} grid${grid.levels > 1 ? `, ${grid.levels} levels` : ''}` : titleLine!;
    const titleSize = Math.round(unit * 1.05);
    const fit = (text: string, size: number) => {
      const room = Math.max(4, Math.floor((w - legendWidth - unit * 2) / (size * 0.6)));
      return text.length > room ? `${text.slice(0, room - 1)}…` : text;
    };
    parts.push(
      `<text x="${unit}" y="${caption ? header * 0.36 : header / 2}" font-family="${FONT}" font-size="${titleSize}" font-weight="600" fill="#f3f4f8" dominant-baseline="central">${esc(fit(title, titleSize))}</text>`,
    );
    if (caption) {
      const captionSize = Math.round(unit * 0.8);
      parts.push(
        `<text x="${unit}" y="${header * 0.72}" font-family="${FONT}" font-size="${captionSize}" fill="#c8cbd6" dominant-baseline="central">${esc(fit(caption, captionSize))}</text>`,
      );
    }
  }

  const totalH = h + header;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${totalH}" viewBox="0 0 ${w} ${totalH}">${parts.join('')}</svg>`;
  // The drawing depends only on sizes, so librsvg rasterises it while the picture decodes.
  const [picture, layer] = await Promise.all([
    source.overview({ width: w, height: h }, 'resize'),
    sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true }),
  ]);
  // Deflate level 2: the encode is a third of the work at level 6 for a 5% larger file (1600 px
  // photo: 4.4 vs 4.2 MB); filters stay off, as adaptive filtering doubles the time.
  const png = await sharp(picture.data, { raw: { width: picture.width, height: picture.height, channels: picture.channels } })
    .extend({ top: header, bottom: 0, left: 0, right: 0, background: { r: 21, g: 23, b: 31 } })
    .composite([{ input: layer.data, raw: { width: layer.info.width, height: layer.info.height, channels: 4 }, top: 0, left: 0 }])
    .png({ compressionLevel: 2, adaptiveFiltering: false })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
