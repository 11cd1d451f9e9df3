/** The loss curve of a training run as an SVG chart (and a PNG rendered from it by sharp). */
import sharp from 'sharp';
import type { EpochReport } from '../train/_train.js';

const W = 720;
const H = 400;
const PAD = { left: 64, right: 64, top: 40, bottom: 48 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 0.01 && Math.abs(n) < 1000) return String(Number(n.toPrecision(3)));
  return n.toExponential(1);
}

/**
 * An SVG chart of a run: training loss and held-out loss per epoch (left axis), held-out top-1
 * hit rate and pairwise accuracy (right axis, 0-1), and the kept (lowest training loss) epoch.
 *
 * @example
 * ```ts
 * await writeFile('loss.svg', lossChartSvg(result.history, { title: 'sqa-clip-b32' }));
 * ```
 */
export function lossChartSvg(history: readonly EpochReport[], options: { readonly title?: string; readonly bestEpoch?: number } = {}): string {
  const epochs = history.map((r) => r.epoch);
  const maxEpoch = Math.max(1, ...epochs);
  const losses = history.flatMap((r) => [r.trainLoss, ...(r.holdout ? [r.holdout.loss] : [])]).filter(Number.isFinite);
  const maxLoss = Math.max(1e-9, ...losses) * 1.1;
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (e: number) => PAD.left + (e / maxEpoch) * iw;
  const yL = (v: number) => PAD.top + ih - (v / maxLoss) * ih;
  const yR = (v: number) => PAD.top + ih - v * ih;
  const line = (pts: [number, number][], colour: string, dash = '') =>
    pts.length === 0
      ? ''
      : `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>` +
        pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="2.5" fill="${colour}"/>`).join('');
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(options.title ?? 'training')}</text>`);
  // Grid and axes.
  for (let i = 0; i <= 4; i++) {
    const v = (maxLoss * i) / 4;
    const y = yL(v);
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmt(v)}</text>`);
    parts.push(`<text x="${W - PAD.right + 6}" y="${(yR(i / 4) + 4).toFixed(1)}" fill="#333">${fmt(i / 4)}</text>`);
  }
  const step = Math.max(1, Math.ceil(maxEpoch / 10));
  for (let e = 0; e <= maxEpoch; e += step) {
    parts.push(`<text x="${x(e).toFixed(1)}" y="${H - PAD.bottom + 18}" text-anchor="middle" fill="#333">${e}</text>`);
  }
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${iw}" height="${ih}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle" fill="#333">epoch</text>`);
  parts.push(`<text transform="translate(16 ${PAD.top + ih / 2}) rotate(-90)" text-anchor="middle" fill="#333">margin loss</text>`);
  parts.push(`<text transform="translate(${W - 14} ${PAD.top + ih / 2}) rotate(90)" text-anchor="middle" fill="#333">held-out rate</text>`);
  if (options.bestEpoch !== undefined) {
    const bx = x(options.bestEpoch).toFixed(1);
    parts.push(`<line x1="${bx}" x2="${bx}" y1="${PAD.top}" y2="${PAD.top + ih}" stroke="#2ca02c" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${bx}" y="${PAD.top - 6}" text-anchor="middle" fill="#2ca02c">kept: epoch ${options.bestEpoch}</text>`);
  }
  parts.push(
    line(
      history.map((r) => [x(r.epoch), yL(r.trainLoss)]),
      '#1f77b4',
    ),
  );
  const held = history.filter((r) => r.holdout);
  parts.push(
    line(
      held.map((r) => [x(r.epoch), yL(r.holdout!.loss)]),
      '#1f77b4',
      '5 4',
    ),
  );
  parts.push(
    line(
      held.map((r) => [x(r.epoch), yR(r.holdout!.top1HitRate)]),
      '#d62728',
    ),
  );
  parts.push(
    line(
      held.map((r) => [x(r.epoch), yR(r.holdout!.pairwiseAccuracy)]),
      '#ff7f0e',
      '5 4',
    ),
  );
  const legend: [string, string, string][] = [
    ['training loss', '#1f77b4', ''],
    ...(held.length > 0
      ? ([
          ['held-out loss', '#1f77b4', '5 4'],
          ['held-out top-1 hit rate', '#d62728', ''],
          ['held-out pairwise accuracy', '#ff7f0e', '5 4'],
        ] as [string, string, string][])
      : []),
  ];
  // Mid-right: loss curves fall to the bottom and rates rise to the top, so the middle stays clear.
  const lx0 = PAD.left + iw - 215;
  const ly0 = PAD.top + ih / 2 - (legend.length * 16) / 2;
  parts.push(`<rect x="${lx0}" y="${ly0.toFixed(1)}" width="205" height="${legend.length * 16 + 8}" fill="#ffffff" fill-opacity="0.85" stroke="#ddd"/>`);
  legend.forEach(([label, colour, dash], i) => {
    const ly = ly0 + 16 + i * 16;
    const lx = lx0 + 8;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    parts.push(`<text x="${lx + 28}" y="${ly}" fill="#222">${esc(label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Renders an SVG to PNG bytes (sharp / librsvg). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}
