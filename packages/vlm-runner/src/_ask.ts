import { SemclipError, throwIfAborted } from '@semclip/core';
import type { Box, EncodedImage, PromptImage, Selection, VlmAnswer, VlmChoice, VlmRunner } from '@semclip/core';
import type { TiledImage } from '@semclip/tiling';
import { describePosition, optionLetters } from './_prompt.js';
import { resolveEncoding } from './_images.js';
import type { ImageEncoding } from './_images.js';

/** `baseline`: overview only. `semclip`: overview + the selection's regions. `all-tiles`: overview + every level-1 tile. */
export const ASK_MODES = ['baseline', 'semclip', 'all-tiles'] as const;
export type AskMode = (typeof ASK_MODES)[number];

export interface AskWithSelectionOptions {
  readonly runner: VlmRunner;
  /** The tiled image (from `tileImage`); crops are cut from it at native resolution, capped by `imageFormat.maxSide`. */
  readonly source: Pick<TiledImage, 'size' | 'grid' | 'encode'>;
  /** Which regions to send; required for `semclip` mode. */
  readonly selection?: Selection;
  readonly question: string;
  /** Multiple-choice options: the runner's `choose` is used and the result is a choice. */
  readonly options?: readonly string[];
  /** Answer instruction appended to the question (per benchmark / user). */
  readonly instruction?: string;
  readonly maxTokens?: number;
  /** Default `semclip`. */
  readonly mode?: AskMode;
  /** How images are encoded before the runner sees them. Default JPEG, quality 90, long side 1024. */
  readonly imageFormat?: ImageEncoding;
  readonly signal?: AbortSignal;
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
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly mime: EncodedImage['mime'];
}

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
  /** Visual tokens the runner reported spending. */
  readonly visualTokens: number;
  readonly timings: AskTimings;
}

export type AskResult =
  | (AskBase & { readonly kind: 'answer'; readonly text: string; readonly answer: VlmAnswer })
  | (AskBase & {
      readonly kind: 'choice';
      readonly index: number;
      readonly letter: string;
      readonly option: string;
      readonly choice: VlmChoice;
    });

interface Planned {
  readonly role: 'overview' | 'region';
  readonly box?: Box;
  readonly tiles?: readonly number[];
  readonly score?: number;
}

function plan(options: AskWithSelectionOptions, mode: AskMode): Planned[] {
  const { source, selection } = options;
  if (mode === 'baseline') return [{ role: 'overview' }];
  if (mode === 'all-tiles') {
    const tiles = source.grid.tiles.filter((t) => t.level === 1);
    return [{ role: 'overview' }, ...tiles.map((t) => ({ role: 'region' as const, box: t.box, tiles: [t.index] }))];
  }
  if (!selection) {
    throw new SemclipError('INVALID_ARGUMENT', 'Mode "semclip" needs a selection.', {
      hint: 'Score the tiles and call select() from @semclip/selector, or use mode "baseline"',
    });
  }
  const regions: Planned[] = selection.regions.map((r) => ({ role: 'region', box: r.box, tiles: r.tiles, score: r.score }));
  return selection.includeOverview ? [{ role: 'overview' }, ...regions] : regions;
}

/**
 * Asks a VLM about a tiled image the SemClip way: the overview plus the selected regions
 * (or the baseline / all-tiles alternatives), each cropped at native resolution from the
 * source. Multiple choice (`options`) goes through `runner.choose`, open questions through
 * `runner.answer`.
 *
 * @example
 * ```ts
 * import { tileImage } from '@semclip/tiling';
 * import { createScorer } from '@semclip/scorers';
 * import { select } from '@semclip/selector';
 * import { askWithSelection, createRunner } from '@semclip/vlm-runner';
 *
 * const tiled = await tileImage('photo.jpg', { grid: { rows: 3, cols: 3 } });
 * const scorer = await createScorer('random');
 * const scores = await scorer.score({ question: 'What is the wait time?' }, tiled);
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf');
 * const result = await askWithSelection({
 *   runner, source: tiled, selection: select(scores, tiled.grid, { k: 1 }),
 *   question: 'What is the wait time?', mode: 'semclip',
 * });
 * if (result.kind === 'answer') console.log(result.text, result.visualTokens);
 * ```
 */
export async function askWithSelection(options: AskWithSelectionOptions): Promise<AskResult> {
  const started = performance.now();
  const mode = options.mode ?? 'semclip';
  if (!(ASK_MODES as readonly string[]).includes(mode)) {
    throw new SemclipError('UNKNOWN_METHOD', `Ask mode "${String(mode)}" is not known.`, { expected: `one of ${ASK_MODES.join(', ')}` });
  }
  const encoding = resolveEncoding(options.imageFormat);
  throwIfAborted(options.signal);
  const planned = plan(options, mode);
  if (planned.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'The selection sends no image (no overview and no regions).', {
      hint: 'Select at least one region or include the overview',
    });
  }
  const encodeOptions = { format: encoding.format, quality: encoding.quality, maxSide: encoding.maxSide };
  const encoded = await Promise.all(planned.map((p) => options.source.encode(p.role === 'overview' ? 'overview' : (p.box as Box), encodeOptions)));
  const encodeMs = performance.now() - started;
  throwIfAborted(options.signal);

  const images: PromptImage[] = [];
  const sent: SentImage[] = [];
  planned.forEach((p, i) => {
    const image = encoded[i] as EncodedImage;
    const position = p.box ? describePosition(p.box, options.source.size) : undefined;
    images.push({ role: p.role, image, ...(p.box ? { box: p.box } : {}), ...(position ? { position } : {}) });
    sent.push({
      role: p.role,
      ...(p.box ? { box: p.box } : {}),
      ...(position ? { position } : {}),
      ...(p.tiles ? { tiles: p.tiles } : {}),
      ...(p.score === undefined ? {} : { score: p.score }),
      width: image.width,
      height: image.height,
      bytes: image.data.byteLength,
      mime: image.mime,
    });
  });

  const common = {
    images,
    question: options.question,
    imageSize: options.source.size,
    ...(options.instruction === undefined ? {} : { instruction: options.instruction }),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const vlmStart = performance.now();
  if (options.options) {
    const choice = await options.runner.choose({ ...common, options: options.options });
    const vlm = performance.now() - vlmStart;
    return {
      kind: 'choice',
      mode,
      index: choice.index,
      letter: optionLetters(options.options.length)[choice.index] ?? '?',
      option: options.options[choice.index] ?? '',
      choice,
      images: sent,
      visualTokens: choice.usage.visual,
      timings: { encode: encodeMs, vlm, total: performance.now() - started },
    };
  }
  const answer = await options.runner.answer({ ...common, ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }) });
  const vlm = performance.now() - vlmStart;
  return {
    kind: 'answer',
    mode,
    text: answer.text,
    answer,
    images: sent,
    visualTokens: answer.usage.visual,
    timings: { encode: encodeMs, vlm, total: performance.now() - started },
  };
}
