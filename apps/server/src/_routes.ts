import { SemclipError } from '@semclip/core';
import { packAsk, zoomAsk } from '@semclip/pipeline';
import type { PackResult, ZoomResult } from '@semclip/pipeline';
import type { Context } from 'hono';
import { mediaType, parseJson, parseMultipart, readBody, unsupportedMediaType } from './_body.js';
import { HttpError } from './_errors.js';
import { imageBytesOf } from './_image-input.js';
import { checkQuestion, encodeCrops, encodeOverlay, gridJson, jsonSafe, runSelection, tokenAlternatives } from './_pipeline.js';
import { boundedJson } from './_response.js';
import type { SelectionRun, WorkContext } from './_pipeline.js';
import { answerRequestSchema, coerceFormFields, selectRequestSchema, validate } from './_schemas.js';
import type { AnswerRequest, SelectRequest } from './_schemas.js';
import type { ServerState } from './_state.js';

interface ParsedImageRequest<T> {
  readonly fields: T;
  readonly bytes: Uint8Array;
}

/** JSON (`image` base64 / data URL, or `image_url`) or multipart (`image` file + string fields). */
async function parseImageRequest<T extends { image?: string | undefined; image_url?: string | undefined }>(
  c: Context,
  ctx: WorkContext,
  schema: Parameters<typeof validate<T>>[0],
  what: string,
): Promise<ParsedImageRequest<T>> {
  const type = mediaType(c.req.raw);
  if (type !== 'application/json' && type !== 'multipart/form-data') throw unsupportedMediaType(type, 'application/json or multipart/form-data');
  const body = await readBody(c.req.raw, ctx.config.limits.maxBodyBytes);
  if (type === 'application/json') {
    const fields = validate(schema, parseJson(body, ctx.config.limits.maxJsonDepth), what);
    return { fields, bytes: await imageBytesOf(fields, ctx.config, ctx.signal) };
  }
  const form = await parseMultipart(body, c.req.header('content-type') ?? '');
  const strings = new Map<string, string>();
  let file: Uint8Array | undefined;
  for (const [key, value] of form) {
    if (typeof value === 'string') strings.set(key, value);
    else if (key === 'image') file = value.data;
    else throw new SemclipError('INVALID_ARGUMENT', `The form field "${key}" is a file; only "image" may be.`, { details: { param: key } });
  }
  const fields = validate(schema, coerceFormFields(strings), what);
  if (file !== undefined) {
    if (fields.image !== undefined || fields.image_url !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', 'The form has an image file and an "image"/"image_url" field.', {
        expected: 'one image',
        details: { param: 'image' },
      });
    }
    if (file.length === 0) throw new SemclipError('IMAGE_EMPTY', 'The uploaded image file is empty (0 bytes).', { details: { param: 'image' } });
    return { fields, bytes: file };
  }
  return { fields, bytes: await imageBytesOf(fields, ctx.config, ctx.signal) };
}

function imageJson(run: SelectionRun): Record<string, unknown> {
  return { width: run.info.width, height: run.info.height, format: run.info.format, bytes: run.info.size, id: run.tiled.id };
}

function scorerJson(run: SelectionRun): Record<string, unknown> | null {
  if (!run.scores) return null;
  return { id: run.scorer, timings: run.scores.timings, ...(run.scores.meta ? { meta: jsonSafe(run.scores.meta) } : {}) };
}

/** POST /v1/select: tiles, scores and the selection; optionally the crops and the overlay. */
export async function selectRoute(c: Context, state: ServerState, ctx: WorkContext): Promise<Response> {
  const result = await state.work.run(async () => {
    const { fields, bytes } = await parseImageRequest<SelectRequest>(c, ctx, selectRequestSchema, 'selection request');
    const question = checkQuestion(fields.question, ctx.config.limits.maxQuestionChars);
    const run = await runSelection(ctx, { bytes, question, options: fields.options, fields });
    const crops = fields.return_crops ? await encodeCrops(ctx, run) : undefined;
    const overlay = fields.return_overlay ? await encodeOverlay(ctx, run, question) : undefined;
    return {
      object: 'semclip.selection',
      question,
      ...(fields.options ? { options: fields.options } : {}),
      image: imageJson(run),
      grid: gridJson(run.tiled),
      scorer: scorerJson(run),
      scores: run.scores?.scores ?? [],
      selection: run.selection,
      ...(crops ? { crops } : {}),
      ...(overlay ? { overlay } : {}),
    };
  }, ctx.signal);
  return boundedJson(c, { ...result, timings: { ...ctx.timings, total: state.elapsed(c) } }, ctx.config.limits.maxResponseBytes, RESPONSE_HINT);
}

/** POST /v1/answer: the selection, then the configured runner with the overview and the crops. */
export async function answerRoute(c: Context, state: ServerState, ctx: WorkContext): Promise<Response> {
  const runner = state.pool.runner;
  if (!runner) {
    throw new HttpError(
      501,
      'NOT_CONFIGURED',
      'This server has no VLM configured, so it cannot answer. Start it with --vlm openai:<url>#<model> (or --upstream and --model), or use POST /v1/select.',
    );
  }
  const prepared = await state.work.run(async () => {
    const { fields, bytes } = await parseImageRequest<AnswerRequest>(c, ctx, answerRequestSchema, 'answer request');
    const question = checkQuestion(fields.question, ctx.config.limits.maxQuestionChars);
    const mode = fields.mode ?? 'semclip';
    const strategy = fields.strategy ?? (mode === 'semclip' ? ctx.config.strategy : 'topk');
    if (strategy !== 'topk' && mode !== 'semclip') {
      throw new HttpError(400, 'INVALID_ARGUMENT', `strategy "${strategy}" applies to mode "semclip" only.`);
    }
    if (fields.max_calls !== undefined && strategy !== 'zoom') throw new HttpError(400, 'INVALID_ARGUMENT', 'max_calls applies to strategy "zoom" only.');
    const run = await runSelection(ctx, { bytes, question, options: fields.options, fields, scoreTiles: mode === 'semclip' && strategy === 'topk' });
    const crops = fields.return_crops ? await encodeCrops(ctx, run) : undefined;
    const overlay = fields.return_overlay ? await encodeOverlay(ctx, run, question) : undefined;
    return { fields, question, mode, strategy, run, crops, overlay };
  }, ctx.signal);

  const { fields, question, mode, strategy, run, crops, overlay } = prepared;
  // zoom and pack: the whole search (or the packed ask) holds one upstream slot.
  const search =
    strategy === 'topk'
      ? undefined
      : await state.upstream.run((): Promise<ZoomResult | PackResult> => {
          const input = {
            runner,
            source: run.tiled,
            question,
            ...(fields.options ? { options: fields.options } : {}),
            ...(fields.instruction === undefined ? {} : { instruction: fields.instruction }),
            signal: ctx.signal,
          };
          return strategy === 'zoom'
            ? zoomAsk(run.pipeline, input, fields.max_calls === undefined ? {} : { maxCalls: fields.max_calls })
            : packAsk(run.pipeline, input);
        }, ctx.signal);
  const result = search
    ? search.answer
    : await state.upstream.run(
        () =>
          run.pipeline.ask({
            runner,
            from: run.run ?? { source: run.tiled },
            question,
            ...(fields.options ? { options: fields.options } : {}),
            ...(fields.instruction === undefined ? {} : { instruction: fields.instruction }),
            ...(fields.max_tokens === undefined ? {} : { maxTokens: fields.max_tokens }),
            mode,
            signal: ctx.signal,
          }),
        ctx.signal,
      );
  // The ask encodes (crops already returned are re-used), then calls the runner: its two timings are the encode and upstream stages.
  ctx.timings.encode = (ctx.timings.encode ?? 0) + result.timings.encode;
  ctx.timings.upstream = result.timings.vlm;
  ctx.metrics.stage('encode', result.timings.encode);
  ctx.metrics.stage('upstream', result.timings.vlm);
  const json = (body: unknown): Response => boundedJson(c, body, ctx.config.limits.maxResponseBytes, RESPONSE_HINT);
  return json({
    object: 'semclip.answer',
    kind: result.kind,
    ...(result.kind === 'answer'
      ? { answer: result.text, usage: result.answer.usage }
      : {
          choice: {
            index: result.index,
            letter: result.letter,
            option: result.option,
            method: result.choice.method,
            scores: result.choice.scores,
            text: result.choice.text ?? null,
          },
          usage: result.choice.usage,
        }),
    model: runner.model,
    mode,
    strategy,
    vlm_calls: search?.calls ?? 1,
    ...(search?.strategy === 'zoom'
      ? {
          search: {
            stopped_by: search.stoppedBy,
            confidence: search.confidence,
            box: search.box,
            ...(search.targets ? { targets: search.targets } : {}),
            steps: search.steps,
          },
        }
      : {}),
    ...(search?.strategy === 'pack'
      ? {
          pack: {
            k: search.k,
            grid: search.grid,
            size: search.size,
            phrases: search.phrases,
            cells: search.cells.map((c) => ({ row: c.cell.row, col: c.cell.col, box: c.cell.box, x: c.x, y: c.y, score: c.score })),
          },
        }
      : {}),
    question,
    ...(fields.options ? { options: fields.options } : {}),
    image: imageJson(run),
    grid: gridJson(run.tiled),
    scorer: scorerJson(run),
    scores: run.scores?.scores ?? [],
    selection: run.selection ?? null,
    images: result.images,
    visual_tokens: search?.visualTokens ?? result.visualTokens,
    tokens: { visual: search?.visualTokens ?? result.visualTokens, ...tokenAlternatives(run) },
    ...(crops ? { crops } : {}),
    ...(overlay ? { overlay } : {}),
    timings: { ...ctx.timings, total: state.elapsed(c) },
  });
}

const RESPONSE_HINT = 'Ask for fewer tiles or regions, or leave out return_crops and return_overlay';
