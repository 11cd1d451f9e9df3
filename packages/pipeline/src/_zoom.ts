/**
 * `zoom`: confidence-gated best-first search over a quadtree of the image. The free scorer
 * ranks a node's children; the VLM is asked only where the scorer is unsure, and the search
 * stops as soon as the VLM is confident. Every VLM call is also a candidate answer (overview +
 * node), so a multiple-choice search ends without a separate answer call. Questions naming two
 * objects search for each on its own and answer with both regions in view.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { Box, TileGrid, TileSource, VlmRunner } from '@semclip/core';
import { optionConfidence, quadtreeChildren, zoomWeight } from '@semclip/selector';
import type { PackCell } from '@semclip/selector';
import { renderOverlay } from '@semclip/tiling';
import { NO_SPELLINGS, YES_SPELLINGS, parseYesNo, yesProbability } from '@semclip/vlm-runner/scorers';
import type { AskResult } from './_ask.js';
import { askPacked, targetPhrases } from './_pack.js';
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
  /** The object searched for, when the question names several (each is searched on its own). */
  readonly target?: string;
  /** An answer call that sent the objects' regions packed side by side (`box` is their union). */
  readonly packed?: true;
}

/** What the search found of one object a question names (questions naming several). */
export interface ZoomTarget {
  readonly target: string;
  /** The most confident node of its search (the whole image if none was asked). */
  readonly box: Box;
  /** P(Yes) that the object is clearly visible there. */
  readonly confidence: number;
  /** VLM calls its search made. */
  readonly calls: number;
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
  /** Per object, when the question names several (`targetPhrases`): what each search found. */
  readonly targets?: readonly ZoomTarget[];
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

/** Asked per object when a question names several: is this one clearly visible here. */
export const ZOOM_TARGET_PROMPT = 'Question: {question}\nCan you clearly see {target} in these images? Answer Yes or No.';

interface CallResult {
  readonly confidence: number;
  readonly asked?: AskResult;
  readonly tokens: number;
  readonly answer: string;
}

interface Best {
  readonly confidence: number;
  readonly box: Box | null;
  readonly asked?: AskResult;
  /** The node, for searches. */
  readonly node?: { readonly id: number; readonly depth: number };
}

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
 * A question naming several objects (`targetPhrases`: quoted words, or V*'s "Is the X on the
 * left or right side of the Y?") cannot be answered from one node, so each object gets a search
 * of its own (ZoomEye's per-target search: "Can you clearly see X in these images?", the scorer
 * asked about X), zoomed on while a child still shows it, sharing the calls left; the answer then
 * sees the regions found packed side by side in their arrangement (`askPacked`), or their union
 * when they overlap or the packed view leaves the VLM unsure. `targets` says what each search found.
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
  const hasScorer = pipeline.scorerId !== undefined;
  const signalOpt = input.signal ? { signal: input.signal } : {};
  const common = {
    runner: input.runner,
    from: { source: input.source as never },
    question: input.question,
    ...(input.options ? { options: input.options } : {}),
    ...(input.instruction === undefined ? {} : { instruction: input.instruction }),
    ...signalOpt,
  };

  // A yes/no question about overview (+ node): P(Yes) / (P(Yes) + P(No)).
  const yesNo = async (box: Box | null, question: string): Promise<CallResult> => {
    const plan = { overview: true, regions: box ? [{ box }] : [] };
    const { images } = await pipeline.buildImages(input.source, plan, signalOpt);
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
        ...signalOpt,
      });
      text = a?.text ?? '';
      if (a && a.method !== 'text') p = yesProbability(a.logprobs as never);
    } else {
      text = (await input.runner.answer({ images, question, maxTokens: 3, imageSize: input.source.size, ...signalOpt })).text;
    }
    p ??= parseYesNo(text) ?? 0.5;
    return { confidence: p, tokens: pipeline.planTokens(input.source, plan), answer: p >= 0.5 ? 'yes' : 'no' };
  };
  // One call about the question: multiple choice gives the answer and its confidence at once.
  const ask = async (box: Box | null): Promise<CallResult> => {
    throwIfAborted(input.signal);
    calls++;
    if (!multipleChoice) return yesNo(box, ZOOM_YESNO_PROMPT.replace('{question}', input.question));
    const asked = await pipeline.ask({ ...common, plan: { overview: true, regions: box ? [{ box }] : [] } });
    const confidence = asked.kind === 'choice' ? optionConfidence(asked.choice.scores) : 1;
    return { confidence, asked, tokens: asked.visualTokens, answer: asked.kind === 'choice' ? asked.option : asked.text };
  };

  let best: Best = { confidence: -1, box: null };
  const consider = (r: CallResult, box: Box | null) => {
    if (r.confidence > best.confidence) best = { confidence: r.confidence, box, ...(r.asked ? { asked: r.asked } : {}) };
  };
  const answerStep = (answer: AskResult, box: Box, packed = false): ZoomStep => ({
    action: 'answer',
    node: -1,
    ...(packed ? { packed: true } : {}),
    depth: 0,
    box,
    tau,
    tokens: answer.visualTokens,
    call: calls,
    answer: answer.kind === 'choice' ? answer.option : answer.text,
    ...(answer.kind === 'choice' ? { confidence: optionConfidence(answer.choice.scores) } : {}),
  });
  const finish = async (stoppedBy: ZoomResult['stoppedBy'], targets?: ZoomTarget[]): Promise<ZoomResult> => {
    let answer = best.asked;
    if (!answer) {
      // Open question: the answer call, with the most confident node.
      calls++;
      answer = await pipeline.ask({ ...common, plan: { overview: true, regions: best.box ? [{ box: best.box }] : [] } });
      tokens += answer.visualTokens;
      steps.push(answerStep(answer, best.box ?? full));
    }
    return {
      strategy: 'zoom',
      answer,
      box: best.box,
      confidence: best.confidence,
      calls,
      visualTokens: tokens,
      stoppedBy,
      steps,
      ...(targets ? { targets } : {}),
    };
  };

  /** The free scorer's scores of a node's children, normalised among them (all 0.5 without a scorer). */
  const scoreChildren = async (query: { question: string; options?: readonly string[] }, parent: Box, boxes: readonly Box[]): Promise<number[]> =>
    normalise(hasScorer ? (await pipeline.score(query, boxesSource(input.source, boxes, `zoom:${boxKey(parent)}`), signalOpt)).scores : boxes.map(() => 0));

  let nextId = 1;
  /**
   * Best-first over the quadtree below `root`, asking `probeAt` (one VLM call) for the scorer's
   * top `probe` children of each expanded node, until a call reaches τ (which decays as nodes
   * are popped) or `callsEnd` calls have been made. Returns the most confident node seen.
   */
  const search = async (s: {
    readonly root: Node;
    readonly query: { question: string; options?: readonly string[] };
    readonly probeAt: (box: Box) => Promise<CallResult>;
    readonly callsEnd: number;
    readonly target?: string;
    readonly seen?: (r: CallResult, box: Box) => void;
  }): Promise<{ found: Best; stoppedBy: ZoomResult['stoppedBy'] }> => {
    let found: Best = { confidence: -1, box: null };
    const targetField = s.target === undefined ? {} : { target: s.target };
    const probe = async (node: Node): Promise<boolean> => {
      const r = await s.probeAt(node.box);
      tokens += r.tokens;
      node.confidence = r.confidence;
      if (r.confidence > found.confidence)
        found = { confidence: r.confidence, box: node.box, node: { id: node.id, depth: node.depth }, ...(r.asked ? { asked: r.asked } : {}) };
      s.seen?.(r, node.box);
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
        ...targetField,
      });
      return r.confidence >= tau;
    };
    const frontier: Node[] = [s.root];
    let pops = 0;
    const canCall = () => calls < s.callsEnd;
    while (frontier.length > 0) {
      frontier.sort((a, b) => b.priority - a.priority);
      const node = frontier.shift() as Node;
      pops++;
      if (pops % o.decayEvery === 0) tau = Math.max(0, tau - o.decay);
      if (node.confidence === undefined) {
        if (!canCall()) return { found, stoppedBy: 'max-calls' };
        if (await probe(node)) return { found, stoppedBy: 'confident' };
      }
      const boxes = quadtreeChildren(node.box, { overlap: o.overlap, leafSide: o.leafSide });
      if (boxes.length === 0) continue;
      const scores = await scoreChildren(s.query, node.box, boxes);
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
      steps.push({ action: 'expand', node: node.id, depth: node.depth, box: node.box, tau, tokens: 0, ...targetField });
      const ranked = [...children].sort((a, b) => b.score - a.score);
      const probed: Node[] = [];
      for (const child of ranked.slice(0, o.probe)) {
        if (!canCall()) return { found, stoppedBy: 'max-calls' };
        probed.push(child);
        if (await probe(child)) return { found, stoppedBy: 'confident' };
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
    return { found, stoppedBy: 'exhausted' };
  };

  const first = await ask(null);
  tokens += first.tokens;
  consider(first, null);
  steps.push({ action: 'overview', node: 0, depth: 0, box: full, confidence: first.confidence, tau, tokens: first.tokens, call: calls, answer: first.answer });
  if (first.confidence >= tau) return finish('confident');

  const phrases = targetPhrases(input.question);
  if (phrases.length < 2) {
    const { stoppedBy } = await search({
      root: { id: 0, depth: 0, box: full, score: 1, confidence: first.confidence, priority: 1 },
      query: { question: input.question, ...(input.options ? { options: input.options } : {}) },
      probeAt: (box) => ask(box),
      callsEnd: o.maxCalls - reserve,
      seen: consider,
    });
    return finish(stoppedBy);
  }

  // The question names several objects (relative position): no one node shows them all at a
  // readable size, so each is searched for on its own (ZoomEye's per-target search, asking
  // whether the object is clearly visible), and the answer sees what was found, together.
  if (calls >= o.maxCalls) return finish('max-calls');
  const targets: ZoomTarget[] = [];
  // One call is kept for the answer; a second, when there is room, for the other view of it
  // (the union after the packed regions).
  const answerCalls = o.maxCalls - calls >= phrases.length + 2 ? 2 : 1;
  let stoppedBy: ZoomResult['stoppedBy'] = 'confident';
  for (const [i, phrase] of phrases.entries()) {
    const left = o.maxCalls - answerCalls - calls;
    const callsEnd = calls + Math.floor(left / (phrases.length - i));
    const ref = input.question.includes(`"${phrase}"`) ? `"${phrase}"` : `the ${phrase}`;
    const prompt = ZOOM_TARGET_PROMPT.replace('{question}', input.question).replace('{target}', ref);
    tau = o.tau;
    const before = calls;
    const r = await search({
      root: { id: 0, depth: 0, box: full, score: 1, confidence: 0, priority: 1 },
      query: { question: phrase },
      probeAt: (box) => {
        throwIfAborted(input.signal);
        calls++;
        return yesNo(box, prompt);
      },
      callsEnd,
      target: phrase,
    });
    if (r.stoppedBy !== 'confident') stoppedBy = r.stoppedBy;
    let found = { box: r.found.box ?? full, confidence: Math.max(0, r.found.confidence) };
    // Found: the object is somewhere in this node. Zoom on while a child still shows it
    // clearly, so what the answer sees of each object is as tight as the calls allow (two
    // objects' nodes side by side must fit the encoder's input at a readable size).
    let at = r.found.node ?? { id: 0, depth: 0 };
    while (r.stoppedBy === 'confident' && calls < callsEnd) {
      const boxes = quadtreeChildren(found.box, { overlap: o.overlap, leafSide: o.leafSide });
      if (boxes.length === 0) break;
      steps.push({ action: 'expand', node: at.id, depth: at.depth, box: found.box, tau, tokens: 0, target: phrase });
      const scores = await scoreChildren({ question: phrase }, found.box, boxes);
      const order = boxes.map((box, i) => ({ box, score: scores[i] as number })).sort((a, b) => b.score - a.score);
      let next: typeof found | undefined;
      for (const child of order) {
        if (calls >= callsEnd) break;
        throwIfAborted(input.signal);
        calls++;
        const c = await yesNo(child.box, prompt);
        tokens += c.tokens;
        const id = nextId++;
        steps.push({
          action: 'probe',
          node: id,
          parent: at.id,
          depth: at.depth + 1,
          box: child.box,
          score: child.score,
          confidence: c.confidence,
          tau,
          tokens: c.tokens,
          call: calls,
          answer: c.answer,
          target: phrase,
        });
        if (c.confidence >= tau) {
          next = { box: child.box, confidence: c.confidence };
          at = { id, depth: at.depth + 1 };
          break;
        }
      }
      if (!next) break;
      found = next;
    }
    targets.push({ target: phrase, box: found.box, confidence: found.confidence, calls: calls - before });
  }
  tau = o.tau;
  // The answer sees every object found: packed side by side in their arrangement at native
  // resolution (RAP's layout) when their boxes are apart, and the smallest box holding them all
  // (ZoomEye's union) when they overlap, or when the packed view left the VLM unsure and a call
  // is left.
  const cells = packCells(targets.map((t) => t.box));
  const apart = cells.every((a, i) => cells.every((b, j) => i === j || a.row !== b.row || a.col !== b.col));
  const union = unionBox(targets.map((t) => t.box));
  let answer: AskResult | undefined;
  let box: Box = union;
  let confidence = -1;
  const take = (a: AskResult, at: Box) => {
    const c = a.kind === 'choice' ? optionConfidence(a.choice.scores) : 1;
    if (c > confidence) ({ answer, confidence, box } = { answer: a, confidence: c, box: at });
  };
  if (apart) {
    throwIfAborted(input.signal);
    calls++;
    const packed = await askPacked(pipeline, input, cells, { separator: 4 });
    tokens += packed.answer.visualTokens;
    steps.push(answerStep(packed.answer, union, true));
    take(packed.answer, union);
  }
  if (!answer || (multipleChoice && confidence < tau && calls < o.maxCalls)) {
    throwIfAborted(input.signal);
    calls++;
    const a = await pipeline.ask({ ...common, plan: { overview: true, regions: [{ box: union }] } });
    tokens += a.visualTokens;
    steps.push(answerStep(a, union));
    take(a, union);
  }
  if (!answer) throw new SemclipError('INTERNAL', 'Zoom ended without an answer.');
  if (best.asked && best.confidence > confidence) ({ answer, confidence, box } = { answer: best.asked, confidence: best.confidence, box: best.box ?? full });
  return { strategy: 'zoom', answer, box, confidence, calls, visualTokens: tokens, stoppedBy, steps, targets };
}

/** The smallest box holding every box. */
function unionBox(boxes: readonly Box[]): Box {
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  return {
    x,
    y,
    width: Math.max(...boxes.map((b) => b.x + b.width)) - x,
    height: Math.max(...boxes.map((b) => b.y + b.height)) - y,
  };
}

/** Rows and columns for `packLayout` from arbitrary boxes: boxes that overlap along an axis share that axis's rank, so the layout keeps their arrangement. */
function packCells(boxes: readonly Box[]): PackCell[] {
  const rank = (lo: (b: Box) => number, len: (b: Box) => number) => {
    const order = boxes.map((b, i) => ({ i, lo: lo(b), hi: lo(b) + len(b) })).sort((a, b) => a.lo - b.lo);
    const ranks: number[] = [];
    let r = -1;
    let reach = Number.NEGATIVE_INFINITY;
    for (const e of order) {
      if (e.lo >= reach) r++;
      reach = Math.max(reach, e.hi);
      ranks[e.i] = r;
    }
    return ranks;
  };
  const rows = rank(
    (b) => b.y,
    (b) => b.height,
  );
  const cols = rank(
    (b) => b.x,
    (b) => b.width,
  );
  return boxes.map((box, i) => ({ row: rows[i] as number, col: cols[i] as number, box }));
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
  // Outlined: the box the answer came with, or each object's box for a two-object question.
  const answeredBoxes = result.targets ? result.targets.map((t) => t.box) : result.box ? [result.box] : [];
  const same = (a: Box, b: Box) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
  const selected = answeredBoxes.length === 0 ? [0] : asked.flatMap((s, i) => (answeredBoxes.some((b) => same(b, s.box)) ? [i] : []));
  return renderOverlay(view, {
    scores: asked.map((s) => s.confidence ?? 0),
    ...(selected.length > 0 ? { selected } : {}),
    maxSide: options.maxSide ?? 1600,
    ...(options.title === undefined ? {} : { title: options.title }),
  });
}
