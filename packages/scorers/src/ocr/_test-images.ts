/**
 * Test fixtures: images with clearly rendered text (sharp + SVG, DejaVu Sans), and a
 * detector-shaped ONNX model that outputs NaN. Used by the OCR tests only; not exported.
 */
import sharp from 'sharp';
import type { RawImage } from '@semclip/core';

export interface TextItem {
  readonly text: string;
  /** Left edge and baseline of the text, in pixels. */
  readonly x: number;
  readonly y: number;
  readonly size: number;
  readonly color?: string;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An SVG canvas with the given texts in bold DejaVu Sans, as PNG bytes. */
export async function renderTextPng(width: number, height: number, items: readonly TextItem[], background = '#ffffff'): Promise<Buffer> {
  const body = items
    .map(
      (t) =>
        `<text x="${t.x}" y="${t.y}" font-family="DejaVu Sans" font-weight="bold" font-size="${t.size}" fill="${t.color ?? '#111111'}">${escapeXml(t.text)}</text>`,
    )
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${background}"/>${body}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Decodes image bytes to RGB RawImage. */
export async function toRaw(bytes: Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}

/**
 * The 1600 x 1200 scene of the OCR tests: the answer "WAIT TIME 25 MIN" (48 px) in the
 * bottom-right quadrant, unrelated words top-left and top-right, bottom-left empty.
 */
export const SCENE = {
  width: 1600,
  height: 1200,
  items: [
    { text: 'GIFT SHOP', x: 120, y: 300, size: 48 },
    { text: 'OPEN DAILY', x: 120, y: 380, size: 40 },
    { text: 'RESTROOMS', x: 950, y: 250, size: 44 },
    { text: 'WAIT TIME 25 MIN', x: 880, y: 900, size: 48 },
  ],
} as const;

export function sceneBytes(): Promise<Buffer> {
  return renderTextPng(SCENE.width, SCENE.height, SCENE.items);
}

/**
 * A 1600 x 1200 scene with small print under a sign's title: "KALI RIVER RAPIDS" (30 px) over
 * "WAIT TIME 25 MIN" (14 px) in the bottom-right quadrant, "GIFT SHOP" (30 px) top-left. Read
 * shrunk to 400 px per tile (2x2), only the titles are found; the small print needs a second look.
 */
export const SMALL_PRINT = {
  width: 1600,
  height: 1200,
  items: [
    { text: 'GIFT SHOP', x: 150, y: 300, size: 30 },
    { text: 'KALI RIVER RAPIDS', x: 1000, y: 800, size: 30 },
    { text: 'WAIT TIME 25 MIN', x: 1040, y: 840, size: 14 },
  ],
} as const;

export function smallPrintBytes(): Promise<Buffer> {
  return renderTextPng(SMALL_PRINT.width, SMALL_PRINT.height, SMALL_PRINT.items);
}

// --- a minimal ONNX writer (protobuf by hand): just enough for a tiny test graph -------------

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const field = (no: number, wire: number) => varint((no << 3) | wire);
const int = (no: number, v: number) => [...field(no, 0), ...varint(v)];
const bytes = (no: number, b: number[]) => [...field(no, 2), ...varint(b.length), ...b];
const str = (no: number, s: string) => bytes(no, [...Buffer.from(s, 'utf8')]);

function valueInfo(name: string, dims: readonly (number | string)[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  const tensorType = [...int(1, 1), ...bytes(2, shape)]; // elem_type FLOAT
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = []): number[] {
  return [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op), ...attrs.flatMap((a) => bytes(5, a))];
}

/**
 * A model shaped like the DB detector (x: N x 3 x H x W -> N x 1 x H x W) whose output is
 * sqrt(-exp(max over channels)) = NaN everywhere: for the MODEL_OUTPUT_INVALID path.
 */
export function nanDetectorModel(): Uint8Array {
  const axes = [...str(1, 'axes'), ...int(20, 7), ...int(8, 1)]; // AttributeProto INTS [1]
  const graph = [
    ...bytes(1, node('ReduceMax', ['x'], ['m'], [axes])),
    ...bytes(1, node('Exp', ['m'], ['e'])),
    ...bytes(1, node('Neg', ['e'], ['n'])),
    ...bytes(1, node('Sqrt', ['n'], ['y'])),
    ...str(2, 'nan_detector'),
    ...bytes(11, valueInfo('x', ['N', 3, 'H', 'W'])),
    ...bytes(12, valueInfo('y', ['N', 1, 'H', 'W'])),
  ];
  const model = [...int(1, 8), ...bytes(8, [...str(1, ''), ...int(2, 13)]), ...bytes(7, graph)];
  return Uint8Array.from(model);
}
