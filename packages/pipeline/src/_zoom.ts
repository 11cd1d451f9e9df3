/**
 * `zoom`: confidence-gated best-first search over a quadtree of the image. The free scorer
 * ranks a node's children; the VLM is asked only where the scorer is unsure, and the search
 * stops as soon as the VLM is confident. Every VLM call is also a candidate answer (overview +
 * node), so a multiple-choice search ends without a separate answer call.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { Box, TileGrid, TileSource, VlmRunner } from '@semclip/core';
import { optionConfidence, quadtreeChildren, zoomWeight } from '@semclip/selector';
import { renderOverlay } from '@semclip/tiling';
import { NO_SPELLINGS, YES_SPELLINGS, parseYesNo, yesProbability } from '@semclip/vlm-runner/scorers';
import type { AskResult } from './_ask.js';
import type { Pipeline } from './_pipeline.js';

export interface ZoomOptions {
  /** Stop when the VLM's confidence reaches this. Default 0.6. */
  readonly tau?: number;
  /** τ drops by this every `decayEvery` pops, so a hard question ends. Default 0.05. */
  readonly decay?: number;
  /** Pops between decays. Default 2. */
  readonly decayEvery?: number;
  /** Hard cap on VLM calls, the final answer included. Default 12. */
  readonly maxCalls?: number;
  /** Children asked per expansion (the scorer's top M); the rest inherit the parent's confidence. Default 4. */
  readonly probe?: number;
  /** Overlap of quadtree children, as a fraction of a child. Default 0.1. */
  readonly overlap?: number;
  /** Nodes whose long side is at most this are leaves. Default twice the encoder input (672 for 336-px encoders). */
  readonly leafSide?: number;
  /** Weight of the scorer in a node's priority at a depth (the VLM's confidence gets the rest). Default `zoomWeight`. */
  readonly weight?: (depth: number) => number;
}

/** One step of the search, in order. */
export interface ZoomStep {
  /** `overview`: the first call; `probe`: asking with overview + node; `expand`: a node split (no call); `answer`: the final call of an open question. */
  readonly action: 'overview' | 'probe' | 'expand' | 'answer';
  /** Node id (0 = the whole image); children are numbered as they are made. */
  readonly node: number;
  readonly parent?: number;
  readonly depth: number;
  readonly box: Box;
  /** The scorer's score, normalised among siblings (0..1). */
  readonly score?: number;
  /** The VLM's confidence after this call. */
  readonly confidence?: number;
  /** The node's priority in the frontier. */
  readonly priority?: number;
  /** τ when the step ran. */
  readonly tau: number;
  /** Visual tokens of this call (0 for `expand`). */
  readonly tokens: number;
  /** 1-based call number, for steps that called the VLM. */
  readonly call?: number;
  /** What the VLM answered (option text or answer text; yes/no probes: `yes`/`no`). */
  readonly answer?: string;
}

export interface ZoomResult {
  readonly strategy: 'zoom';
  /** The answer given: the most confident call's (multiple choice), or the final call's (open). */
  readonly answer: AskResult;
  /** The region sent with the overview for the answer; null when the overview alone answered. */
  readonly box: Box | null;
  readonly confidence: number;
  /** VLM calls made, the answer included (never more than `maxCalls`). */
  readonly calls: number;
  /** Visual tokens over every call. */
  readonly visualTokens: number;
  readonly stoppedBy: 'confident' | 'max-calls' | 'exhausted';
  readonly steps: readonly ZoomStep[];
}

export interface ZoomInput {
  readonly runner: VlmRunner;
  readonly source: TileSource;
  readonly question: string;
  readonly options?: readonly string[];
  readonly instruction?: string;
  readonly signal?: AbortSignal;
}

/** The question asked for open questions' confidence (what `vlm-yesno` asks of a tile). */
export const ZOOM_YESNO_PROMPT = 'Question: {question}\nCould you answer the question from these images? Answer Yes or No.';

interface Node {
  readonly id: number;
  readonly parent?: number;
  readonly depth: number;
  readonly box: Box;
  readonly score: number;
  confidence?: number;
  priority: number;
  asked?: AskResult;
}

function positive(name: string, value: number, integer: boolean, min: number, max = Number.POSITIVE_INFINITY): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value)))) {
    throw new SemclipError('INVALID_ARGUMENT', `Zoom option ${name} = ${String(value)} is out of range.`, {
      expected: `${integer ? 'an integer' : 'a number'} from ${min}${Number.isFinite(max) ? ` to ${max}` : ''}`,
      details: { option: name },
    });
  }
  return value;
}

/**
 * Fills in and checks zoom options (INVALID_ARGUMENT names the option).
 *
 * @example
 * ```ts
 * resolveZoomOptions({ maxCalls: 8 }); // { tau: 0.6, decay: 0.05, decayEvery: 2, maxCalls: 8, probe: 4, overlap: 0.1, ... }
 * ```
 */
export function resolveZoomOptions(options: ZoomOptions = {}, encoderSide = 336): Required<ZoomOptions> {
  return {
    tau: positive('tau', options.tau ?? 0.6, false, 0, 1),
    decay: positive('decay', options.decay ?? 0.05, false, 0, 1),
    decayEvery: positive('decayEvery', options.decayEvery ?? 2, true, 1),
    maxCalls: positive('maxCalls', options.maxCalls ?? 12, true, 1, 1000),
    probe: positive('probe', options.probe ?? 4, true, 0, 4),
    overlap: positive('overlap', options.overlap ?? 0.1, false, 0, 0.5),
    leafSide: positive('leafSide', options.leafSide ?? 2 * encoderSide, true, 16),
    weight: options.weight ?? zoomWeight,
  };
}

/** The encoder's input side per family: what "about the encoder's input size" means for nodes and cells. */
export function encoderSideOf(family: string): number {
  return family === 'internvl' ? 448 : family === 'qwen2-vl' ? 448 : 336;
}

/**
 * A view of a source whose grid is the given boxes, so a scorer scores quadtree nodes or pack
 * cells like tiles (the scorers read only `grid`, `crop` and `id`; `gridKey` keys their caches).
 */
export function boxesSource(source: TileSource, boxes: readonly Box[], key: string, rows = 1, cols = boxes.length): TileSource {
  const grid: TileGrid = {
    image: source.size,
    rows,
    cols,
    overlap: 0,
    levels: 1,
    tiles: boxes.map((box, index) => ({ index, row: Math.floor(index / cols), col: index % cols, level: 1, box })),
  };
  return {
    id: source.id,
    size: source.size,
    grid,
    gridKey: key,
    crop: (box, o) => source.crop(box, o),
    overview: (size, mode) => source.overview(size, mode),
    encode: (box, o) => source.encode(box, o),
  };
}

/** Min-max over siblings (all equal: 0.5), so scorers of any scale mix with a 0..1 confidence. */
function normalise(scores: readonly number[]): number[] {
  const finite = scores.map((s) => (Number.isFinite(s) ? s : 0));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return finite.map((s) => (hi > lo ? (s - lo) / (hi - lo) : 0.5));
}

const boxKey = (b: Box) => `${b.x},${b.y},${b.width},${b.height}`;

/**
 * Answers with the `zoom` strategy: the overview first (done if confident), then best-first
 * over a quadtree, asking the VLM with overview + node for the scorer's top `probe` children of
 * each expanded node, until the confidence reaches τ (decaying by `decay` every `decayEvery`
 * pops) or `maxCalls` is spent; then the most confident call's answer. Multiple choice reads
 * confidence as the gap between the top two option probabilities; open questions ask
 * "Could you answer the question from these images? Answer Yes or No." per node
 * (P(Yes) / (P(Yes) + P(No))) and spend one last call on the answer.
 *
 * @example
 * ```ts
 * const source = await pipeline.open('photo.jpg');
 * const zoom = await zoomAsk(pipeline, { runner, source, question: 'What is the color of the star?', options: ['red', 'blue'] }, { maxCalls: 12 });
 * zoom.calls; // 9
 * zoom.steps.map((s) => [s.action, s.box, s.confidence]);
 * ```
 */
export async function zoomAsk(pipeline: Pipeline, input: ZoomInput, zoomOptions: ZoomOptions = {}): Promise<ZoomResult> {
  const o = resolveZoomOptions(zoomOptions, encoderSideOf(pipeline.policy.family));
  const multipleChoice = input.options !== undefined;
  // Open questions keep one call for the answer itself.
  const reserve = multipleChoice ? 0 : 1;
  if (o.maxCalls < 1 + reserve) {
    throw new SemclipError('INVALID_ARGUMENT', `Zoom maxCalls ${o.maxCalls} leaves no call for the answer of an open question.`, { expected: 'maxCalls >= 2' });
  }
  const steps: ZoomStep[] = [];
  let calls = 0;
  let tokens = 0;
  let tau = o.tau;
  const full: Box = { x: 0, y: 0, width: input.source.size.width, height: input.source.size.height };
  const scoreQuery = { question: input.question, ...(input.options ? { options: input.options } : {}) };
  const hasScorer = pipeline.scorerId !== undefined;
  const common = {
    runner: input.runner,
    from: { source: input.source as never },
    question: input.question,
    ...(input.options ? { options: input.options } : {}),
    ...(input.instruction === undefined ? {} : { instruction: input.instruction }),
    ...(input.signal ? { signal: input.signal } : {}),
  };

  // One call: overview (+ node). Multiple choice: the answer and its confidence at once.
  const call = async (box: Box | null): Promise<{ confidence: number; asked?: AskResult; tokens: number; answer: string }> => {
    throwIfAborted(input.signal);
    calls++;
    const plan = { overview: true, regions: box ? [{ box }] : [] };
    if (multipleChoice) {
      const asked = await pipeline.ask({ ...common, plan });
      const confidence = asked.kind === 'choice' ? optionConfidence(asked.choice.scores) : 1;
      return { confidence, asked, tokens: asked.visualTokens, answer: asked.kind === 'choice' ? asked.option : asked.text };
    }
    const { images } = await pipeline.buildImages(input.source, plan, input.signal ? { signal: input.signal } : {});
    const question = ZOOM_YESNO_PROMPT.replace('{question}', input.question);
    const runner = input.runner as VlmRunner & { answerLogprobs?: (r: unknown) => Promise<Array<{ method: string; logprobs?: unknown; text: string }>> };
    let p: number | undefined;
    let text = '';
    if (typeof runner.answerLogprobs === 'function') {
      const [a] = await runner.answerLogprobs({
        prompts: [images],
        question,
        candidates: [...YES_SPELLINGS, ...NO_SPELLINGS],
        maxTokens: 3,
        imageSize: input.source.size,
        ...(input.signal ? { signal: input.signal } : {}),
      });
      text = a?.text ?? '';
      if (a && a.method !== 'text') p = yesProbability(a.logprobs as never);
    } else {
      text = (await input.runner.answer({ images, question, maxTokens: 3, imageSize: input.source.size, ...(input.signal ? { signal: input.signal } : {}) }))
        .text;
    }
    p ??= parseYesNo(text) ?? 0.5;
    return { confidence: p, tokens: pipeline.planTokens(input.source, plan), answer: p >= 0.5 ? 'yes' : 'no' };
  };

  let best: { confidence: number; box: Box | null; asked?: AskResult } = { confidence: -1, box: null };
  const finish = async (stoppedBy: ZoomResult['stoppedBy']): Promise<ZoomResult> => {
    let answer = best.asked;
    if (!answer) {
      // Open question: the answer call, with the most confident node.
      calls++;
      answer = await pipeline.ask({ ...common, plan: { overview: true, regions: best.box ? [{ box: best.box }] : [] } });
      tokens += answer.visualTokens;
      steps.push({
        action: 'answer',
        node: -1,
        depth: 0,
        box: best.box ?? full,
        tau,
        tokens: answer.visualTokens,
        call: calls,
        answer: answer.kind === 'choice' ? answer.option : answer.text,
      });
    }
    return { strategy: 'zoom', answer, box: best.box, confidence: best.confidence, calls, visualTokens: tokens, stoppedBy, steps };
  };
  const consider = (r: { confidence: number; asked?: AskResult }, box: Box | null) => {
    if (r.confidence > best.confidence) best = { confidence: r.confidence, box, ...(r.asked ? { asked: r.asked } : {}) };
  };

  const first = await call(null);
  tokens += first.tokens;
  consider(first, null);
  steps.push({ action: 'overview', node: 0, depth: 0, box: full, confidence: first.confidence, tau, tokens: first.tokens, call: calls, answer: first.answer });
  if (first.confidence >= tau) return finish('confident');

  let nextId = 1;
  const frontier: Node[] = [{ id: 0, depth: 0, box: full, score: 1, confidence: first.confidence, priority: 1 }];
  let pops = 0;
  const canCall = () => calls < o.maxCalls - reserve;
  while (frontier.length > 0) {
    frontier.sort((a, b) => b.priority - a.priority);
    const node = frontier.shift() as Node;
    pops++;
    if (pops % o.decayEvery === 0) tau = Math.max(0, tau - o.decay);
    if (node.confidence === undefined) {
      if (!canCall()) return finish('max-calls');
      const r = await call(node.box);
      tokens += r.tokens;
      node.confidence = r.confidence;
      consider(r, node.box);
      steps.push({
        action: 'probe',
        node: node.id,
        ...(node.parent === undefined ? {} : { parent: node.parent }),
        depth: node.depth,
        box: node.box,
        score: node.score,
        confidence: r.confidence,
        priority: node.priority,
        tau,
        tokens: r.tokens,
        call: calls,
        answer: r.answer,
      });
      if (r.confidence >= tau) return finish('confident');
    }
    const boxes = quadtreeChildren(node.box, { overlap: o.overlap, leafSide: o.leafSide });
    if (boxes.length === 0) continue;
    const raw = hasScorer
      ? (await pipeline.score(scoreQuery, boxesSource(input.source, boxes, `zoom:${boxKey(node.box)}`), input.signal ? { signal: input.signal } : {})).scores
      : boxes.map(() => 0);
    const scores = normalise(raw);
    const depth = node.depth + 1;
    const w = o.weight(depth);
    const children: Node[] = boxes.map((box, i) => ({
      id: nextId++,
      parent: node.id,
      depth,
      box,
      score: scores[i] as number,
      // Not asked yet: the parent's confidence stands in for the child's.
      priority: w * (scores[i] as number) + (1 - w) * (node.confidence ?? 0),
    }));
    steps.push({ action: 'expand', node: node.id, depth: node.depth, box: node.box, tau, tokens: 0 });
    const ranked = [...children].sort((a, b) => b.score - a.score);
    const probed: Node[] = [];
    for (const child of ranked.slice(0, o.probe)) {
      if (!canCall()) {
        frontier.push(...children);
        return finish('max-calls');
      }
      const r = await call(child.box);
      tokens += r.tokens;
      child.confidence = r.confidence;
      probed.push(child);
      consider(r, child.box);
      steps.push({
        action: 'probe',
        node: child.id,
        parent: node.id,
        depth,
        box: child.box,
        score: child.score,
        confidence: r.confidence,
        tau,
        tokens: r.tokens,
        call: calls,
        answer: r.answer,
      });
      if (r.confidence >= tau) return finish('confident');
    }
    // Confidence relative to the siblings asked: below τ every confidence is small, and what
    // tells the nodes apart is which one the VLM is less unsure about. The 0.05 keeps
    // differences at noise level from being stretched to the full range.
    const confs = probed.map((c) => c.confidence as number);
    const lo = Math.min(...confs);
    const hi = Math.max(...confs);
    const relative = (c: number) => (c - lo) / (hi - lo + 0.05);
    const meanRelative = probed.length ? confs.reduce((a, c) => a + relative(c), 0) / probed.length : (node.confidence ?? 0);
    for (const child of children) {
      const conf = child.confidence === undefined ? meanRelative : relative(child.confidence);
      child.priority = w * child.score + (1 - w) * conf;
    }
    frontier.push(...children);
  }
  return finish('exhausted');
}

/**
 * The zoom search drawn on the image: every box the VLM was asked about, numbered by call, its
 * heat the VLM's confidence, the box the answer came with outlined. PNG bytes.
 *
 * @example
 * ```ts
 * await writeFile('search.png', await zoomOverlay(source, zoom, { title: question }));
 * ```
 */
export async function zoomOverlay(
  source: TileSource,
  result: ZoomResult,
  options: { readonly maxSide?: number; readonly title?: string } = {},
): Promise<Uint8Array> {
  const asked = result.steps.filter((s) => s.call !== undefined && s.action !== 'answer');
  const view = boxesSource(
    source,
    asked.map((s) => s.box),
    'zoom-overlay',
  );
  const answered = result.box
    ? asked.findIndex((s) => s.box.x === result.box?.x && s.box.y === result.box?.y && s.box.width === result.box?.width && s.box.height === result.box?.height)
    : 0;
  return renderOverlay(view, {
    scores: asked.map((s) => s.confidence ?? 0),
    ...(answered >= 0 ? { selected: [answered] } : {}),
    maxSide: options.maxSide ?? 1600,
    ...(options.title === undefined ? {} : { title: options.title }),
  });
}
