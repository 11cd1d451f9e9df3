/**
 * Writes interleaved RGB bytes into `out` at `offset` as three planes (CHW), each value
 * `(x / 255 - mean[c]) / std[c]` computed in float64 and stored as float32, like
 * CLIPImageProcessor's rescale + normalize. A 256-entry table per channel keeps it one lookup
 * per value.
 */
export function normaliseInto(
  rgb: Uint8Array,
  out: Float32Array,
  offset: number,
  plane: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): void {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  }
  const r = offset;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[r + i] = lut[rgb[p]!]!;
    out[g + i] = lut[256 + rgb[p + 1]!]!;
    out[b + i] = lut[512 + rgb[p + 2]!]!;
  }
}
