import { MAX_OPTIONS, optionLetters, SemclipError } from '@semclip/core';
import type { Box, PromptImage, Size } from '@semclip/core';

/** The nine names `describePosition` returns, row by row. */
export const POSITION_NAMES = [
  'top-left',
  'top-center',
  'top-right',
  'center-left',
  'center',
  'center-right',
  'bottom-left',
  'bottom-center',
  'bottom-right',
] as const;
export type PositionName = (typeof POSITION_NAMES)[number];

/**
 * Names where a box lies in an image on a 3x3 grid of thirds, by the box's centre:
 * `top-left`, `top-center`, `top-right`, `center-left`, `center`, ... `bottom-right`.
 *
 * @example
 * ```ts
 * import { describePosition } from '@semclip/vlm-runner';
 * describePosition({ x: 1500, y: 0, width: 500, height: 500 }, { width: 2000, height: 1500 }); // 'top-right'
 * ```
 */
export function describePosition(box: Box, imageSize: Size): PositionName {
  const { width: W, height: H } = imageSize;
  if (!(W > 0 && H > 0 && Number.isFinite(W) && Number.isFinite(H))) {
    throw new SemclipError('INVALID_ARGUMENT', `Image size ${W}x${H} is not a positive size.`, {
      expected: 'a width and height of at least 1 pixel',
    });
  }
  const valid =
    [box.x, box.y, box.width, box.height].every(Number.isFinite) &&
    box.width > 0 &&
    box.height > 0 &&
    box.x >= 0 &&
    box.y >= 0 &&
    box.x + box.width <= W + 1e-6 &&
    box.y + box.height <= H + 1e-6;
  if (!valid) {
    throw new SemclipError(
      'INVALID_ARGUMENT',
      `Region box {x: ${box.x}, y: ${box.y}, width: ${box.width}, height: ${box.height}} does not lie inside the ${W}x${H} image.`,
      { expected: 'a box with positive width and height inside the image, in pixels of the original image' },
    );
  }
  const third = (centre: number, size: number): number => Math.min(2, Math.max(0, Math.floor((centre / size) * 3)));
  const col = third(box.x + box.width / 2, W);
  const row = third(box.y + box.height / 2, H);
  return POSITION_NAMES[row * 3 + col] as PositionName;
}

/** Templates for the text that tells the model what the later images are. */
export interface PromptTemplates {
  /**
   * One sentence per region when images are sent separately. `{n}` is the image's 1-based
   * number, `{position}` the region's position in image 1.
   * Default: `Image {n} is a zoomed-in view of the {position} region of image 1.`
   */
  readonly region?: string;
  /** Used for a region whose position is unknown (no `box`/`position`, no `imageSize`). */
  readonly regionUnknown?: string;
  /** Composite with one region. Default: `The left part of the image is the whole picture; the right part shows its {position} region zoomed in.` */
  readonly compositeOne?: string;
  /** Composite lead-in with several regions; `{count}` is the number of parts. */
  readonly compositeMany?: string;
  /** Composite, per region; `{n}` is the part's 1-based number from the left. */
  readonly compositePart?: string;
  /** Appended to multiple-choice questions when the caller gives no instruction. */
  readonly chooseInstruction?: string;
}

export const DEFAULT_TEMPLATES: Required<PromptTemplates> = {
  region: 'Image {n} is a zoomed-in view of the {position} region of image 1.',
  regionUnknown: 'Image {n} is a zoomed-in view of a region of image 1.',
  compositeOne: 'The left part of the image is the whole picture; the right part shows its {position} region zoomed in.',
  compositeMany: 'The image is made of {count} parts side by side, separated by thin lines. The leftmost part is the whole picture.',
  compositePart: 'Part {n} from the left shows its {position} region zoomed in.',
  chooseInstruction: "Answer with the option's letter from the given choices directly.",
};

/** What `buildPrompt` needs: an answer or choose request, plus the original image size for positions. */
export interface PromptRequest {
  readonly images: readonly PromptImage[];
  readonly question: string;
  readonly instruction?: string;
  /** Multiple-choice options; listed as `A. ...` lines after the question. */
  readonly options?: readonly string[];
  /** Size of the original image, so region boxes can be named (top-left ...). */
  readonly imageSize?: Size;
}

export interface PromptBuildOptions {
  /** `separate` (one image per prompt image) or `composite` (all packed side by side into one). */
  readonly layout?: 'separate' | 'composite';
  readonly templates?: PromptTemplates;
}

/** A backend-neutral prompt: images in the order to send, and the one text part after them. */
export interface BuiltPrompt {
  /** Overview first, then regions in the caller's order. */
  readonly images: readonly PromptImage[];
  /** Where each region is; empty when there are no regions or no overview. */
  readonly context: string;
  /** The question, options (`A. ...`) and the answer instruction. */
  readonly query: string;
  /** `context` and `query` joined: the text sent with the images. */
  readonly text: string;
  /** The option letters, when the request has options. */
  readonly letters: readonly string[];
}

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}

function positionOf(image: PromptImage, imageSize: Size | undefined): string | undefined {
  if (image.position) return image.position;
  if (image.box && imageSize) return describePosition(image.box, imageSize);
  return undefined;
}

/**
 * Orders the images (the overview first, then the regions) and writes the text: where each
 * region lies in the overview, the question, the options and the answer instruction. Shared
 * by every backend, so local and HTTP models see the same words.
 *
 * @example
 * ```ts
 * import { buildPrompt } from '@semclip/vlm-runner';
 * const prompt = buildPrompt({
 *   images: [
 *     { role: 'overview', image: overview },
 *     { role: 'region', image: crop, box: { x: 1500, y: 0, width: 500, height: 500 } },
 *   ],
 *   imageSize: { width: 2000, height: 1500 },
 *   question: 'What does the sign say?',
 *   instruction: 'Answer with a single word.',
 * });
 * prompt.text;
 * // 'Image 2 is a zoomed-in view of the top-right region of image 1.\nWhat does the sign say?\nAnswer with a single word.'
 * ```
 */
export function buildPrompt(request: PromptRequest, options: PromptBuildOptions = {}): BuiltPrompt {
  const t = { ...DEFAULT_TEMPLATES, ...options.templates };
  const question = typeof request.question === 'string' ? request.question.trim() : '';
  if (!question) {
    throw new SemclipError('INVALID_QUESTION', 'The question is empty.', { expected: 'a non-empty question string' });
  }
  if (!Array.isArray(request.images) || request.images.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'The prompt has no images.', {
      expected: 'at least one image: the overview, optionally followed by regions',
    });
  }
  const overviews = request.images.filter((im) => im.role === 'overview');
  const regions = request.images.filter((im) => im.role === 'region');
  if (overviews.length > 1) {
    throw new SemclipError('INVALID_ARGUMENT', `The prompt has ${overviews.length} overview images.`, {
      expected: 'at most one image with role "overview"',
    });
  }
  if (overviews.length + regions.length !== request.images.length) {
    throw new SemclipError('INVALID_ARGUMENT', 'A prompt image has an unknown role.', { expected: 'role "overview" or "region"' });
  }
  const opts = request.options;
  if (opts !== undefined) {
    if (opts.length < 2 || opts.length > MAX_OPTIONS) {
      throw new SemclipError('INVALID_ARGUMENT', `A multiple-choice question needs 2 to ${MAX_OPTIONS} options, got ${opts.length}.`, {
        expected: 'options like ["red", "blue"]',
      });
    }
    if (opts.some((o) => typeof o !== 'string' || !o.trim())) {
      throw new SemclipError('INVALID_ARGUMENT', 'An option is empty.', { expected: 'non-empty option strings' });
    }
  }
  const images = [...overviews, ...regions];
  const hasOverview = overviews.length === 1;

  const sentences: string[] = [];
  if (hasOverview && regions.length > 0) {
    const layout = options.layout ?? 'separate';
    if (layout === 'composite') {
      if (regions.length === 1) {
        const position = positionOf(regions[0] as PromptImage, request.imageSize);
        sentences.push(fill(t.compositeOne, { position: position ?? 'selected' }));
      } else {
        sentences.push(fill(t.compositeMany, { count: images.length }));
        regions.forEach((r, i) => {
          const position = positionOf(r, request.imageSize);
          sentences.push(fill(t.compositePart, { n: i + 2, position: position ?? 'selected' }));
        });
      }
    } else {
      regions.forEach((r, i) => {
        const position = positionOf(r, request.imageSize);
        sentences.push(position ? fill(t.region, { n: i + 2, position }) : fill(t.regionUnknown, { n: i + 2 }));
      });
    }
  }
  const context = sentences.join(' ');
  const letters = opts ? optionLetters(opts.length) : [];
  const queryLines = [question];
  if (opts) opts.forEach((o, i) => queryLines.push(`${letters[i]}. ${o.trim()}`));
  const instruction = request.instruction?.trim() || (opts ? t.chooseInstruction : '');
  if (instruction) queryLines.push(instruction);
  const query = queryLines.join('\n');
  return { images, context, query, text: context ? `${context}\n${query}` : query, letters };
}
