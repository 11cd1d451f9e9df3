/**
 * A simulated VLM with limited perception, for the fake OpenAI server: it decodes each image it
 * is sent, resizes it as the model family would (LLaVA-1.5: pad to a square of the CLIP mean,
 * then 336x336; Qwen2-VL: smart resize), finds the benchmark's targets in those pixels by their
 * marker colour (`synth.json`, written by `generateSynthBenchmark` in @semclip/tiling), and
 * answers right only when every target the question needs is visible at >= `visibleAt`
 * effective pixels (both in one image, in the right left/right order, for relative position);
 * otherwise a seeded wrong option. Its log-probabilities follow the visibility margin through a
 * sigmoid, so a confidence read from them means something. Asked "Can you clearly see X in these
 * images?" (zoom's per-object search), it needs only the object X.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Box, RelevanceScorer, TileScores } from '@semclip/core';
import type { FakeOpenAIBehaviour, RecordedRequest, SimulatedReply } from './openai-upstream.js';

type Rgb = readonly [number, number, number];

/** The parts of `@semclip/tiling`'s `SynthManifest` the simulator reads. */
export interface SimManifest {
  readonly items: ReadonlyArray<{
    readonly id: string;
    readonly type: 'colour' | 'text' | 'relative';
    readonly question: string;
    readonly options: readonly string[];
    readonly answer: string;
    readonly targets: ReadonlyArray<{
      readonly label: string;
      readonly marker: Rgb;
      readonly markerFraction: number;
      readonly box: { width: number; height: number };
    }>;
  }>;
}

export interface SimVlmOptions {
  /** The manifest, or the path of `synth.json`. */
  readonly manifest: SimManifest | string;
  /** Short side, in the pixels the encoder sees, at which a target becomes readable. Default 12. */
  readonly visibleAt?: number;
  /** Sigmoid width of the confidence around `visibleAt`, in pixels. Default 3. */
  readonly softness?: number;
  /** Default `llava-1.5`. */
  readonly family?: 'llava-1.5' | 'qwen2-vl';
  /** Seeds the wrong answers. Default 1. */
  readonly seed?: number;
}

/** What the simulator saw of one target in one image. */
export interface TargetSighting {
  /** Estimated short side in encoder pixels (0: not found). */
  readonly pixels: number;
  /** Centre in encoder pixels. */
  readonly x: number;
  readonly y: number;
}

const MEAN: Rgb = [122, 116, 104];

function isMarker(r: number, g: number, b: number, m: Rgb): boolean {
  return Math.abs(r - m[0]) <= 70 && Math.abs(g - m[1]) <= 70 && Math.abs(b - m[2]) <= 70;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Qwen2-VL's smart resize: multiples of 28, 56² to 28²x1280 pixels. */
function smartResize(width: number, height: number): { width: number; height: number } {
  const f = 28;
  let h = Math.max(f, Math.round(height / f) * f);
  let w = Math.max(f, Math.round(width / f) * f);
  const max = 28 * 28 * 1280;
  const min = 56 * 56;
  if (h * w > max) {
    const beta = Math.sqrt((height * width) / max);
    h = Math.floor(height / beta / f) * f;
    w = Math.floor(width / beta / f) * f;
  } else if (h * w < min) {
    const beta = Math.sqrt(min / (height * width));
    h = Math.ceil((height * beta) / f) * f;
    w = Math.ceil((width * beta) / f) * f;
  }
  return { width: w, height: h };
}

/**
 * The pixels the model's encoder gets from an encoded image, with the visual tokens it costs.
 *
 * @example
 * ```ts
 * const { data, width, height, tokens } = await encoderView(jpegBytes, 'llava-1.5'); // 336x336, 576
 * ```
 */
export async function encoderView(bytes: Uint8Array, family: 'llava-1.5' | 'qwen2-vl' = 'llava-1.5') {
  let img = sharp(bytes).removeAlpha();
  const meta = await sharp(bytes).metadata();
  const w = meta.width ?? 1;
  const h = meta.height ?? 1;
  if (family === 'llava-1.5') {
    if (w !== h) {
      const side = Math.max(w, h);
      const left = Math.floor((side - w) / 2);
      const top = Math.floor((side - h) / 2);
      img = sharp(
        await img.extend({ left, top, right: side - w - left, bottom: side - h - top, background: { r: MEAN[0], g: MEAN[1], b: MEAN[2] } }).toBuffer(),
      );
    }
    const { data, info } = await img.resize(336, 336, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, tokens: 576 };
  }
  const s = smartResize(w, h);
  const { data, info } = await img.resize(s.width, s.height, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, tokens: (s.width / 28) * (s.height / 28) };
}

/**
 * Finds a target in encoder pixels by its marker colour: its short side estimated from the
 * matching pixel count (the patch's marker fraction and aspect ratio known), its centre from
 * their centroid.
 */
export function sightTarget(
  view: { data: Uint8Array; width: number; height: number },
  target: SimManifest['items'][number]['targets'][number],
): TargetSighting {
  let count = 0;
  let sx = 0;
  let sy = 0;
  const { data, width, height } = view;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (isMarker(data[i] as number, data[i + 1] as number, data[i + 2] as number, target.marker)) {
        count++;
        sx += x;
        sy += y;
      }
    }
  }
  // A few stray pixels are noise, not a target.
  if (count < 6) return { pixels: 0, x: 0, y: 0 };
  const aspect = target.box.width / target.box.height;
  const pixels = Math.sqrt(count / (target.markerFraction * aspect));
  return { pixels, x: sx / count, y: sy / count };
}

/** What the simulator made of one request, for tests. */
export interface SimJudgement {
  readonly itemId: string | undefined;
  /** Visibility (short side in encoder pixels) of the needed targets in the best image. */
  readonly pixels: number;
  readonly correct: boolean;
  readonly confidence: number;
}

/**
 * The simulated VLM as a fake-server behaviour: `startFakeOpenAI({ behaviour: sim.behaviour })`.
 * `judgements` lists, per request, which item it matched and what it saw.
 *
 * @example
 * ```ts
 * const sim = simulatedVlm({ manifest: 'synth/synth.json', visibleAt: 12 });
 * const fake = await startFakeOpenAI({ behaviour: sim.behaviour, models: ['llava-hf/llava-1.5-7b-hf'] });
 * ```
 */
export function simulatedVlm(options: SimVlmOptions): { behaviour: FakeOpenAIBehaviour; judgements: SimJudgement[] } {
  const manifest: SimManifest = typeof options.manifest === 'string' ? (JSON.parse(readFileSync(options.manifest, 'utf8')) as SimManifest) : options.manifest;
  const visibleAt = options.visibleAt ?? 12;
  const softness = options.softness ?? 3;
  const family = options.family ?? 'llava-1.5';
  const seed = options.seed ?? 1;
  // Longest question first, so a question that contains another's text matches the longer one.
  const items = [...manifest.items].sort((a, b) => b.question.length - a.question.length);
  const judgements: SimJudgement[] = [];

  const simulate = async (request: RecordedRequest): Promise<SimulatedReply> => {
    const text = request.texts.join('\n');
    const letters = [...text.matchAll(/^([A-Z])\. (.+)$/gm)].map((m) => ({ letter: m[1] as string, option: (m[2] as string).trim() }));
    const candidates = items.filter((it) => text.includes(it.question));
    const item =
      candidates.find((it) => letters.length === 0 || (letters.length === it.options.length && letters.every((l) => it.options.includes(l.option)))) ??
      candidates[0];
    const views = await Promise.all(request.images.filter((i) => i.data).map((i) => encoderView(i.data as Uint8Array, family)));
    const promptTokens = views.reduce((s, v) => s + v.tokens, 0) + Math.ceil(text.length / 4);
    if (!item) {
      judgements.push({ itemId: undefined, pixels: 0, correct: false, confidence: 0 });
      return { text: 'A', topLogprobs: [{ token: 'A', logprob: Math.log(0.5) }], promptTokens };
    }
    // A question about one object the item names (zoom's per-object search): only that
    // object needs to be visible.
    const asked = /Can you clearly see (.+?) in these images\?/i.exec(text)?.[1]?.replace(/"/g, '').toLowerCase();
    const named = asked === undefined ? [] : item.targets.filter((t) => asked.replace(/^the /, '') === t.label.toLowerCase());
    const needed = named.length > 0 ? named : item.targets;
    // What the model perceives: the best image for the needed targets.
    let pixels = 0;
    let seenAnswer: string | undefined;
    for (const view of views) {
      const sightings = needed.map((t) => sightTarget(view, t));
      const p = Math.min(...sightings.map((s) => s.pixels));
      if (p > pixels) {
        pixels = p;
        if (item.type === 'relative' && sightings.length === 2) {
          const [a, b] = sightings as [TargetSighting, TargetSighting];
          seenAnswer = a.x < b.x ? 'left' : 'right';
        } else seenAnswer = item.answer;
      }
    }
    const visible = pixels >= visibleAt;
    const confidence = sigmoid((pixels - visibleAt) / softness);
    const wrong = item.options.filter((o) => o !== item.answer);
    const distractor = wrong[hash(`${seed}:${item.id}`) % Math.max(1, wrong.length)] ?? item.answer;
    const said = visible ? (seenAnswer ?? item.answer) : distractor;
    judgements.push({ itemId: item.id, pixels, correct: said === item.answer, confidence });
    if (/Answer Yes or No/i.test(text)) {
      const yes = Math.min(0.999, Math.max(0.001, confidence));
      return {
        text: yes >= 0.5 ? 'Yes' : 'No',
        topLogprobs: [
          { token: yes >= 0.5 ? 'Yes' : 'No', logprob: Math.log(Math.max(yes, 1 - yes)) },
          { token: yes >= 0.5 ? 'No' : 'Yes', logprob: Math.log(Math.min(yes, 1 - yes)) },
        ],
        promptTokens,
      };
    }
    if (letters.length === 0) return { text: said, promptTokens };
    // The said option leads the others by `confidence`; the rest share what is left evenly.
    const k = letters.length;
    const rest = (1 - confidence) / k;
    const saidLetter = letters.find((l) => l.option === said)?.letter ?? 'A';
    const top = [
      { token: saidLetter, logprob: Math.log(rest + confidence) },
      ...letters.filter((l) => l.letter !== saidLetter).map((l) => ({ token: l.letter, logprob: Math.log(Math.max(rest, 1e-9)) })),
    ];
    return { text: saidLetter, topLogprobs: top, promptTokens };
  };
  return { behaviour: { simulate }, judgements };
}

/**
 * A free scorer that knows where a synthetic item's targets are: a tile scores the share of the
 * named targets (those whose label the query mentions; all when none is named) it holds. It
 * isolates a strategy's search and packing from the quality of a real scorer.
 *
 * @example
 * ```ts
 * const pipeline = createPipeline({ scorer: targetScorer(item), runner });
 * ```
 */
export function targetScorer(item: { readonly targets: ReadonlyArray<{ readonly label: string; readonly box: Box }> }): RelevanceScorer {
  return {
    id: 'targets',
    async score(query, source): Promise<TileScores> {
      const named = item.targets.filter((t) => query.question.includes(t.label));
      const wanted = named.length > 0 ? named : item.targets;
      const scores = source.grid.tiles.map((tile) =>
        Math.max(
          0,
          ...wanted.map((t) => {
            const b = tile.box;
            const w = Math.max(0, Math.min(b.x + b.width, t.box.x + t.box.width) - Math.max(b.x, t.box.x));
            const h = Math.max(0, Math.min(b.y + b.height, t.box.y + t.box.height) - Math.max(b.y, t.box.y));
            return (w * h) / (t.box.width * t.box.height);
          }),
        ),
      );
      return { scorer: 'targets', scores, timings: { preprocess: 0, encode: 0, score: 0 } } as TileScores;
    },
    async dispose() {},
  } as RelevanceScorer;
}
