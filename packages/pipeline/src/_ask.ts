import { SemclipError, optionLetters, throwIfAborted } from '@semclip/core';
import type {
  Box,
  EncodedImage,
  ImagePadding,
  PlannedRegion,
  PromptImage,
  PromptPlan,
  Selection,
  Size,
  TileSource,
  VlmAnswer,
  VlmChoice,
  VlmRunner,
} from '@semclip/core';
import { describePosition } from '@semclip/vlm-runner';
import { imagePolicyFor, paddedSize } from './_policy.js';
import type { ImagePolicy } from './_policy.js';

/** `baseline`: overview only. `semclip`: overview + the selection's regions. `all-tiles`: overview + every level-1 tile. */
export const ASK_MODES = ['baseline', 'semclip', 'all-tiles'] as const;
export type AskMode = (typeof ASK_MODES)[number];

/** How prompt images are encoded for the VLM. */
export interface ImageFormat {
  /** Default `jpeg`. */
  readonly format?: 'jpeg' | 'png' | 'webp';
  /** 1-100. Default 90. */
  readonly quality?: number;
  /** Long-side cap in pixels (never upscaled). Default 1024. */
  readonly maxSide?: number;
}

export const DEFAULT_IMAGE_FORMAT: Required<ImageFormat> = { format: 'jpeg', quality: 90, maxSide: 1024 };

/** Fills the defaults in and checks ranges (INVALID_ARGUMENT names the field). */
export function resolveImageFormat(format: ImageFormat | undefined): Required<ImageFormat> {
  const f = {
    format: format?.format ?? DEFAULT_IMAGE_FORMAT.format,
    quality: format?.quality ?? DEFAULT_IMAGE_FORMAT.quality,
    maxSide: format?.maxSide ?? DEFAULT_IMAGE_FORMAT.maxSide,
  };
  if (!['jpeg', 'png', 'webp'].includes(f.format)) {
    throw new SemclipError('INVALID_ARGUMENT', `Image format "${String(f.format)}" is not supported.`, {
      expected: 'jpeg, png or webp',
      details: { option: 'format' },
    });
  }
  if (!Number.isSafeInteger(f.quality) || f.quality < 1 || f.quality > 100) {
    throw new SemclipError('INVALID_ARGUMENT', `Image quality ${String(f.quality)} is out of range.`, {
      expected: 'an integer from 1 to 100',
      details: { option: 'quality' },
    });
  }
  if (!Number.isSafeInteger(f.maxSide) || f.maxSide < 16 || f.maxSide > 16384) {
    throw new SemclipError('INVALID_ARGUMENT', `Image maxSide ${String(f.maxSide)} is out of range.`, {
      expected: 'an integer from 16 to 16384',
      details: { option: 'maxSide' },
    });
  }
  return f;
}

/** What was sent: one entry per prompt image, in order. */
export interface SentImage {
  readonly role: 'overview' | 'region';
  /** Region box in pixels of the original image. */
  readonly box?: Box;
  readonly position?: string;
  /** Tile indices the region covers. */
  readonly tiles?: readonly number[];
  /** The region's score (best of its tiles). */
  readonly score?: number;
  /** The size sent (after padding, when padded). */
  readonly width: number;
  readonly height: number;
  /** Set when the image was padded to a square (`pad-square`): where the cut image sits in it. */
  readonly padded?: Box;
  readonly bytes: number;
  readonly mime: EncodedImage['mime'];
  /** Visual tokens this image costs the model (its family's formula, on the size sent). */
  readonly tokens: number;
}

/**
 * The plan for a mode: `baseline` the overview alone, `all-tiles` the overview and every
 * level-1 tile, `semclip` what the selection says (INVALID_ARGUMENT without one).
 *
 * @example
 * ```ts
 * planFor(tiled, 'semclip', selection); // { overview: true, regions: [{ box, tiles: [4], score: 0.91 }] }
 * ```
 */
export function planFor(source: Pick<TileSource, 'grid'>, mode: AskMode, selection?: Selection): PromptPlan {
  if (!(ASK_MODES as readonly string[]).includes(mode)) {
    throw new SemclipError('UNKNOWN_METHOD', `Ask mode "${String(mode)}" is not known.`, { expected: `one of ${ASK_MODES.join(', ')}` });
  }
  if (mode === 'baseline') return { overview: true, regions: [] };
  if (mode === 'all-tiles') {
    return { overview: true, regions: source.grid.tiles.filter((t) => t.level === 1).map((t) => ({ box: t.box, tiles: [t.index] })) };
  }
  if (!selection) {
    throw new SemclipError('INVALID_ARGUMENT', 'Mode "semclip" needs a selection.', {
      hint: 'Score the tiles and select (pipeline.run does both), or use mode "baseline"',
    });
  }
  return { overview: selection.includeOverview, regions: selection.regions.map((r): PlannedRegion => ({ box: r.box, tiles: r.tiles, score: r.score })) };
}

const boxKey = (b: Box): string => `${b.x},${b.y},${b.width},${b.height}`;

/**
 * The size a box is sent at: native, shrunk (never enlarged) so the long side fits `maxSide`,
 * as `TileSource.encode` cuts it, then padded to a square of its long side under `pad-square`.
 *
 * @example
 * ```ts
 * sentSize(4032, 3024, 1024); // { width: 1024, height: 768 }
 * sentSize(4032, 3024, 1024, { mode: 'pad-square', colour: [122, 116, 104] }); // { width: 1024, height: 1024 }
 * ```
 */
export function sentSize(width: number, height: number, maxSide: number, padding?: ImagePadding): Size {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return paddedSize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), padding);
}

/** Encoded images per source, so every prompt of one image re-uses its overview and crops. */
const encodeCache = new WeakMap<object, Map<string, Promise<EncodedImage>>>();

/**
 * Encodes the images of a plan (overview first, then regions at native resolution capped by
 * `maxSide`, then padded to a square when the policy's `padding` is `pad-square`), each box
 * once per source, format and padding, and says what was sent.
 *
 * @example
 * ```ts
 * const { images, sent } = await buildPromptImages(tiled, planFor(tiled, 'baseline'), { policy });
 * sent[0]; // { role: 'overview', width: 1024, height: 768, bytes: 91234, mime: 'image/jpeg', tokens: 576 }
 * ```
 */
export async function buildPromptImages(
  source: Pick<TileSource, 'size' | 'encode'>,
  plan: PromptPlan,
  options: { readonly policy: ImagePolicy; readonly imageFormat?: ImageFormat; readonly signal?: AbortSignal },
): Promise<{ images: PromptImage[]; sent: SentImage[] }> {
  const f = resolveImageFormat(options.imageFormat);
  const parts: Array<{ role: 'overview' | 'region'; region?: PlannedRegion }> = [
    ...(plan.overview ? [{ role: 'overview' as const }] : []),
    ...plan.regions.map((region) => ({ role: 'region' as const, region })),
  ];
  if (parts.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'The plan sends no image (no overview and no regions).', {
      hint: 'Select at least one region or include the overview',
    });
  }
  throwIfAborted(options.signal);
  let cache = encodeCache.get(source);
  if (!cache) {
    cache = new Map();
    encodeCache.set(source, cache);
  }
  const padding = options.policy.padding;
  const padSquare = padding?.mode === 'pad-square' ? padding.colour : undefined;
  const formatKey = `${f.format}:${f.quality}:${f.maxSide}:${padSquare ? `pad(${padSquare.join(',')})` : 'none'}`;
  const encodeOnce = (box: Box | 'overview'): Promise<EncodedImage> => {
    const key = `${box === 'overview' ? 'overview' : boxKey(box)}|${formatKey}`;
    let p = (cache as Map<string, Promise<EncodedImage>>).get(key);
    if (!p) {
      p = source.encode(box, padSquare ? { ...f, padSquare } : f);
      // A failed encode is not kept: the next prompt tries again (and reports its own error).
      p.catch(() => cache?.delete(key));
      (cache as Map<string, Promise<EncodedImage>>).set(key, p);
    }
    return p;
  };
  const encoded = await Promise.all(parts.map((p) => encodeOnce(p.region ? p.region.box : 'overview')));
  throwIfAborted(options.signal);
  const images: PromptImage[] = [];
  const sent: SentImage[] = [];
  parts.forEach((p, i) => {
    const image = encoded[i] as EncodedImage;
    const box = p.region?.box;
    const position = box ? describePosition(box, source.size) : undefined;
    if (padSquare && image.width !== image.height) {
      // A TileSource of another package that does not know `padSquare` would send the image as cut.
      throw new SemclipError(
        'UNSUPPORTED_CAPABILITY',
        `The image source returned a ${image.width}x${image.height} image where a padded square was asked for.`,
        {
          hint: 'Use a TileSource from @semclip/tiling (it pads), or padding "none"',
        },
      );
    }
    const cut = padSquare ? sentSize(box?.width ?? source.size.width, box?.height ?? source.size.height, f.maxSide) : undefined;
    const padded =
      cut && (cut.width !== image.width || cut.height !== image.height)
        ? { x: Math.floor((image.width - cut.width) / 2), y: Math.floor((image.height - cut.height) / 2), width: cut.width, height: cut.height }
        : undefined;
    images.push({ role: p.role, image, ...(box ? { box } : {}), ...(position ? { position } : {}) });
    sent.push({
      role: p.role,
      ...(box ? { box } : {}),
      ...(position ? { position } : {}),
      ...(p.region?.tiles ? { tiles: p.region.tiles } : {}),
      ...(p.region?.score === undefined ? {} : { score: p.region.score }),
      width: image.width,
      height: image.height,
      ...(padded ? { padded } : {}),
      bytes: image.data.byteLength,
      mime: image.mime,
      tokens: options.policy.tokensFor(image.width, image.height),
    });
  });
  return { images, sent };
}

/** Milliseconds of an ask. */
export interface AskTimings {
  /** Cropping and encoding the images. */
  encode: number;
  /** The runner call (queueing, upload, generation). */
  vlm: number;
  total: number;
}

interface AskBase {
  readonly mode: AskMode;
  readonly images: readonly SentImage[];
  /** Visual tokens of the images sent, by the model family's formula (`SentImage.tokens` summed). */
  readonly visualTokens: number;
  readonly timings: AskTimings;
}

export type AskResult =
  | (AskBase & { readonly kind: 'answer'; readonly text: string; readonly answer: VlmAnswer })
  | (AskBase & { readonly kind: 'choice'; readonly index: number; readonly letter: string; readonly option: string; readonly choice: VlmChoice });

export interface AskOptions {
  readonly runner: VlmRunner;
  /** The tiled image; crops are cut from it at native resolution, capped by `imageFormat.maxSide`. */
  readonly source: Pick<TileSource, 'size' | 'grid' | 'encode'>;
  /** Which regions to send; required for `semclip` mode unless `plan` is given. */
  readonly selection?: Selection;
  /** Exactly what to send (overview or not, then regions), instead of a mode and a selection: e.g. overview + one tile per request when labelling. */
  readonly plan?: PromptPlan;
  readonly question: string;
  /** Multiple-choice options: the runner's `choose` is used and the result is a choice. */
  readonly options?: readonly string[];
  /** Answer instruction appended to the question. */
  readonly instruction?: string;
  readonly maxTokens?: number;
  /** Default `semclip`. */
  readonly mode?: AskMode;
  /** The model family's token costs; default: the family the runner's model id names, else `fixed` at its `visualTokensPerImage`. */
  readonly policy?: ImagePolicy;
  readonly imageFormat?: ImageFormat;
  readonly signal?: AbortSignal;
}

/**
 * Asks a VLM about a tiled image the SemClip way: the overview plus the selected regions (or
 * the baseline / all-tiles alternatives), each cut at native resolution from the source.
 * Multiple choice goes through `runner.choose`, open questions through `runner.answer`.
 * `pipeline.ask` calls this with the pipeline's policy and encoding.
 *
 * @example
 * ```ts
 * import { askWithSelection } from '@semclip/pipeline';
 * const result = await askWithSelection({ runner, source: run.source, selection: run.selection, question: 'What is the wait time?' });
 * if (result.kind === 'answer') console.log(result.text, result.visualTokens); // '25 minutes' 1152
 * ```
 */
export async function askWithSelection(options: AskOptions): Promise<AskResult> {
  const started = performance.now();
  const policy = options.policy ?? imagePolicyFor(options.runner.model, { tokensPerImage: options.runner.visualTokensPerImage });
  const mode = options.mode ?? 'semclip';
  const plan = options.plan ?? planFor(options.source, mode, options.selection);
  const { images, sent } = await buildPromptImages(options.source, plan, {
    policy,
    ...(options.imageFormat ? { imageFormat: options.imageFormat } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return askPrepared({
    runner: options.runner,
    images,
    sent,
    question: options.question,
    imageSize: options.source.size,
    mode,
    started,
    ...(options.options ? { options: options.options } : {}),
    ...(options.instruction === undefined ? {} : { instruction: options.instruction }),
    ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Images already built for a prompt, and what to ask with them (see `askPrepared`). */
export interface PreparedAsk {
  readonly runner: VlmRunner;
  readonly images: readonly PromptImage[];
  readonly sent: readonly SentImage[];
  readonly question: string;
  readonly imageSize: Size;
  readonly mode: AskMode;
  /** When the work for this answer began (`performance.now()`): encoding is what came before the call. */
  readonly started: number;
  readonly options?: readonly string[];
  readonly instruction?: string;
  readonly maxTokens?: number;
  readonly signal?: AbortSignal;
}

/**
 * The one place a prompt goes to the VLM: `runner.choose` for multiple choice, else
 * `runner.answer`, and the result with its images, visual tokens and timings. The selection
 * ask and the strategies (pack) share it, so their results read the same.
 */
export async function askPrepared(p: PreparedAsk): Promise<AskResult> {
  const encodeMs = performance.now() - p.started;
  const visualTokens = p.sent.reduce((s, i) => s + i.tokens, 0);
  const common = {
    images: p.images,
    question: p.question,
    imageSize: p.imageSize,
    ...(p.instruction === undefined ? {} : { instruction: p.instruction }),
    ...(p.signal ? { signal: p.signal } : {}),
  };
  const vlmStart = performance.now();
  const timings = () => ({ encode: encodeMs, vlm: performance.now() - vlmStart, total: performance.now() - p.started });
  if (p.options) {
    const choice = await p.runner.choose({ ...common, options: p.options });
    return {
      kind: 'choice',
      mode: p.mode,
      index: choice.index,
      letter: optionLetters(p.options.length)[choice.index] ?? '?',
      option: p.options[choice.index] ?? '',
      choice,
      images: p.sent,
      visualTokens,
      timings: timings(),
    };
  }
  const answer = await p.runner.answer({ ...common, ...(p.maxTokens === undefined ? {} : { maxTokens: p.maxTokens }) });
  return { kind: 'answer', mode: p.mode, text: answer.text, answer, images: p.sent, visualTokens, timings: timings() };
}
