import { setMaxListeners } from 'node:events';
import { Semaphore, SemclipError, abortedError, defineRunner, intOption, isSemclipError } from '@semclip/core';
import type { AnswerRequest, ChooseRequest, EncodedImage, PromptImage, Size, VlmAnswer, VlmCapabilities, VlmChoice, VlmRunner } from '@semclip/core';
import { buildPrompt } from '../_prompt.js';
import type { BuiltPrompt, PromptTemplates } from '../_prompt.js';
import { compositeImages, encodeForUpstream, resolveEncoding } from '../_images.js';
import type { ImageEncoding } from '../_images.js';
import { UNSEEN_SCORE, argmax, parseChoice, scoresFromLogprobs } from '../_choose.js';
import type { TopLogprob } from '../_choose.js';
import { buildLogprobPrompts } from '../_answer-logprobs.js';
import type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
import { dataUrlBytes, jsonWithImages, postJson, redact } from './_http.js';
import type { HttpSettings, RetryInfo } from './_http.js';

export type { RetryInfo } from './_http.js';
export type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';

/** Options of the OpenAI-compatible backend (vLLM, llama.cpp's llama-server, Ollama, OpenAI...). */
export interface OpenAIRunnerOptions {
  /** API root, e.g. `http://127.0.0.1:8000/v1`; requests go to `${baseUrl}/chat/completions`. */
  readonly baseUrl: string;
  /** Model name as the server knows it, e.g. `llava-hf/llava-1.5-7b-hf`. */
  readonly model: string;
  /**
   * Environment variable holding the API key (sent as `Authorization: Bearer`). Default
   * `OPENAI_API_KEY`; when that is unset no header is sent (local servers need none). A
   * variable named here explicitly must be set.
   */
  readonly apiKeyEnv?: string;
  /** Where to read `apiKeyEnv` from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Visual tokens the model spends per image, for accounting. Default 576 (LLaVA-1.5 at 336 px). */
  readonly visualTokensPerImage?: number;
  /** How images are encoded: default JPEG, quality 90, long side at most 1024 px. */
  readonly image?: ImageEncoding;
  /**
   * `separate` (default): one `image_url` part per image. `composite`: overview and regions
   * packed side by side into one image, for servers that accept one image per request.
   */
  readonly imageMode?: 'separate' | 'composite';
  /** Width in pixels of the white line between composite parts. Default 8. */
  readonly compositeSeparator?: number;
  /** Wording of the region descriptions and the default multiple-choice instruction. */
  readonly templates?: PromptTemplates;
  /** Default `max_tokens` for `answer`. Default 256. */
  readonly maxTokens?: number;
  /** Per-attempt timeout in ms (headers and body). Default 120000. */
  readonly timeoutMs?: number;
  /** Requests in flight at once for this runner (shared by all its calls). Default 4. */
  readonly concurrency?: number;
  /** Retries after the first attempt on 429, 5xx, dropped connections (and timeouts if enabled). Default 3. */
  readonly retries?: number;
  /** First backoff step in ms; doubles per retry, with jitter. Default 500. */
  readonly retryBaseMs?: number;
  /** Longest backoff step, and the longest `Retry-After` honoured (longer fails at once). Default 20000. */
  readonly retryMaxMs?: number;
  /** Also retry timed-out attempts. Default false (a slow server rarely gets faster). */
  readonly retryOnTimeout?: boolean;
  /**
   * Use `logprobs`/`top_logprobs` for `choose`: `auto` (default) tries once and remembers
   * when the server rejects or ignores them; `true` requires them; `false` never asks.
   */
  readonly logprobs?: 'auto' | boolean;
  /** `top_logprobs` requested for `choose`. Default 20 (the OpenAI and vLLM maximum). */
  readonly topLogprobs?: number;
  /** Extra request headers (not logged, not put in errors). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra JSON body fields, e.g. `{ seed: 0 }` or vLLM's `{ top_k: 1 }`. */
  readonly extraBody?: Readonly<Record<string, unknown>>;
  /** Called before each retry wait (for progress output). */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Override `fetch` (tests, proxies). */
  readonly fetch?: typeof fetch;
  /** Runner id; default `openai:<model>`. */
  readonly id?: string;
}

/** Request extras the OpenAI runner understands beyond the core contract. */
export interface OpenAIRequestExtras {
  /** Size of the original image, so region boxes can be named (top-left ...) in the prompt. */
  readonly imageSize?: Size;
}

/** The runner this backend returns: a `VlmRunner` plus what it learnt about the server. */
export interface OpenAIRunner extends VlmRunner {
  readonly kind: 'openai';
  readonly baseUrl: string;
  readonly imageMode: 'separate' | 'composite';
  /** `true`/`false` once known; `undefined` while `logprobs: 'auto'` has not tried yet. */
  readonly logprobsSupported: boolean | undefined;
  answer(request: AnswerRequest & OpenAIRequestExtras): Promise<VlmAnswer>;
  choose(request: ChooseRequest & OpenAIRequestExtras): Promise<VlmChoice>;
  /**
   * One request per prompt (prompts share the text and differ in their images), all at once
   * but bounded by the runner's `concurrency`: the first answer token's `top_logprobs` where
   * the server gives them (`method: 'logprobs'`), else just the answer's first `maxTokens`
   * tokens (`method: 'text'`); `logprobs` follows the runner's option (`auto` remembers a
   * server without them). `candidates` are not sent: the caller finds them among the top tokens.
   * What the `vlm-yesno` scorer uses.
   *
   * @example
   * ```ts
   * const [first] = await runner.answerLogprobs({
   *   prompts: [[{ role: 'overview', image: tileJpeg }]],
   *   question: 'Is there a dog? Answer Yes or No.',
   *   candidates: ['Yes', 'No'],
   * });
   * first.logprobs; // [{ token: 'Yes', logprob: -0.1 }, { token: 'No', logprob: -2.4 }, ...]
   * ```
   */
  answerLogprobs(request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]>;
}

/** An integer option, named as the OpenAI runner's in errors. */
function intArg(name: string, value: number | undefined, fallback: number, min = 1): number {
  return intOption(name, value, { fallback, min, what: 'OpenAI runner option' });
}

/**
 * Checks and normalises the base URL. `fetch` refuses URLs with credentials, so user info
 * (`http://user:pass@host/v1`) moves into a Basic authorization header; neither the display
 * form nor any error shows it.
 */
export function normaliseBaseUrl(baseUrl: string): { url: string; display: string; basicAuth?: string } {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch (err) {
    throw new SemclipError('INVALID_ARGUMENT', `"${baseUrl.replace(/\/\/[^/@]*@/, '//***@')}" is not a URL.`, {
      cause: err,
      expected: 'an http(s) base URL like http://127.0.0.1:8000/v1',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SemclipError('INVALID_ARGUMENT', `Base URL protocol "${parsed.protocol}" is not supported.`, {
      expected: 'an http(s) base URL like http://127.0.0.1:8000/v1',
    });
  }
  let basicAuth: string | undefined;
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    basicAuth = Buffer.from(`${user}:${pass}`).toString('base64');
    parsed.username = '';
    parsed.password = '';
  }
  parsed.hash = '';
  const url = parsed.toString().replace(/\/+$/, '');
  const display = `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/+$/, '');
  return basicAuth === undefined ? { url, display } : { url, display, basicAuth };
}

interface Completion {
  readonly text: string;
  readonly top: readonly TopLogprob[] | undefined;
  readonly usage: { prompt?: number; completion?: number };
}

function badResponse(display: string, what: string, json: unknown, secrets: readonly string[]): SemclipError {
  let snippet = '';
  try {
    snippet = redact(JSON.stringify(json).slice(0, 160), secrets);
  } catch {
    snippet = String(json);
  }
  return new SemclipError('UPSTREAM_BAD_RESPONSE', `${display} returned a response ${what}: ${snippet}`, {
    expected: 'an OpenAI chat completion with choices[0].message.content',
    hint: 'Check that the server speaks the OpenAI chat completions API and that the model is a vision model',
    details: { url: display },
  });
}

function parseCompletion(json: unknown, display: string, secrets: readonly string[]): Completion {
  if (!json || typeof json !== 'object') throw badResponse(display, 'that is not an object', json, secrets);
  const choices = (json as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) throw badResponse(display, 'without choices', json, secrets);
  const first = choices[0] as { message?: { content?: unknown }; logprobs?: unknown } | undefined;
  const content = first?.message?.content;
  let text: string;
  if (typeof content === 'string') text = content;
  else if (Array.isArray(content)) {
    text = content
      .map((p: unknown) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  } else if (content === null || content === undefined) {
    throw badResponse(display, 'without choices[0].message.content', json, secrets);
  } else throw badResponse(display, 'with a non-text message', json, secrets);
  let top: TopLogprob[] | undefined;
  const lp = first?.logprobs as { content?: unknown } | null | undefined;
  const firstToken = Array.isArray(lp?.content) ? (lp.content[0] as { top_logprobs?: unknown; token?: unknown; logprob?: unknown } | undefined) : undefined;
  if (firstToken && Array.isArray(firstToken.top_logprobs)) {
    top = firstToken.top_logprobs
      .filter((t: unknown): t is TopLogprob => !!t && typeof (t as TopLogprob).token === 'string' && typeof (t as TopLogprob).logprob === 'number')
      .map((t) => ({ token: t.token, logprob: t.logprob }));
    if (top.length === 0 && typeof firstToken.token === 'string' && typeof firstToken.logprob === 'number') {
      top = [{ token: firstToken.token, logprob: firstToken.logprob }];
    }
  }
  const u = (json as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
  const usage: { prompt?: number; completion?: number } = {};
  if (typeof u?.prompt_tokens === 'number') usage.prompt = u.prompt_tokens;
  if (typeof u?.completion_tokens === 'number') usage.completion = u.completion_tokens;
  return { text, top, usage };
}

/**
 * A `VlmRunner` for any OpenAI-compatible `/v1/chat/completions` server that takes images
 * as base64 data URLs: vLLM, llama.cpp's `llama-server`, Ollama, OpenAI.
 *
 * @example
 * ```ts
 * import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
 *
 * const runner = createOpenAIRunner({ baseUrl: 'http://127.0.0.1:8000/v1', model: 'llava-hf/llava-1.5-7b-hf' });
 * const { text } = await runner.answer({
 *   images: [{ role: 'overview', image: overviewJpeg }, { role: 'region', image: cropJpeg, position: 'top-right' }],
 *   question: 'What is the wait time?',
 *   instruction: 'Answer with a single word or phrase.',
 * });
 * await runner.dispose();
 * ```
 */
export function createOpenAIRunner(options: OpenAIRunnerOptions): OpenAIRunner {
  if (!options || typeof options.model !== 'string' || !options.model.trim()) {
    throw new SemclipError('INVALID_ARGUMENT', 'The OpenAI runner needs a model name.', { expected: 'model like "llava-hf/llava-1.5-7b-hf"' });
  }
  const { url: baseUrl, display, basicAuth } = normaliseBaseUrl(options.baseUrl);
  const model = options.model.trim();
  const env = options.env ?? process.env;
  const keyVar = options.apiKeyEnv ?? 'OPENAI_API_KEY';
  const apiKey = env[keyVar];
  if (options.apiKeyEnv !== undefined && !apiKey) {
    throw new SemclipError('INVALID_ARGUMENT', `The API key variable ${keyVar} is not set.`, {
      hint: `Set ${keyVar} in the environment, or leave apiKeyEnv out for servers that need no key`,
    });
  }
  const encoding = resolveEncoding(options.image);
  const imageMode = options.imageMode ?? 'separate';
  if (imageMode !== 'separate' && imageMode !== 'composite') {
    throw new SemclipError('INVALID_ARGUMENT', `Image mode "${String(imageMode)}" is not known.`, { expected: 'separate or composite' });
  }
  const visualTokensPerImage = intArg('visualTokensPerImage', options.visualTokensPerImage, 576);
  const defaultMaxTokens = intArg('maxTokens', options.maxTokens, 256);
  const topLogprobs = intArg('topLogprobs', options.topLogprobs, 20);
  const separator = intArg('compositeSeparator', options.compositeSeparator, 8, 0);
  const logprobsMode = options.logprobs ?? 'auto';
  if (logprobsMode !== 'auto' && logprobsMode !== true && logprobsMode !== false) {
    throw new SemclipError('INVALID_ARGUMENT', `logprobs option "${String(logprobsMode)}" is not known.`, { expected: "'auto', true or false" });
  }
  let logprobsSupported: boolean | undefined = logprobsMode === 'auto' ? undefined : logprobsMode;
  const secrets = apiKey ? [apiKey] : [];
  const headers: Record<string, string> = { ...options.headers };
  if (basicAuth) {
    headers.authorization = `Basic ${basicAuth}`;
    // The password is secret; the user name alone is not (and redacting a short word like "user" would mangle messages).
    const password = Buffer.from(basicAuth, 'base64').toString().split(':').slice(1).join(':');
    secrets.push(basicAuth, ...(password ? [password] : []));
  }
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  for (const v of Object.values(options.headers ?? {})) if (v.length >= 8) secrets.push(v);
  const http: HttpSettings = {
    url: `${baseUrl}/chat/completions`,
    displayUrl: `${display}/chat/completions`,
    headers,
    timeoutMs: intArg('timeoutMs', options.timeoutMs, 120_000),
    retries: intArg('retries', options.retries, 3, 0),
    retryBaseMs: intArg('retryBaseMs', options.retryBaseMs, 500, 0),
    retryMaxMs: intArg('retryMaxMs', options.retryMaxMs, 20_000, 0),
    retryOnTimeout: options.retryOnTimeout ?? false,
    fetch: options.fetch ?? globalThis.fetch,
    semaphore: new Semaphore(intArg('concurrency', options.concurrency, 4)),
    secrets,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
  const disposeController = new AbortController();
  // Every queued and in-flight call listens on it; hundreds at once are normal, not a leak.
  setMaxListeners(0, disposeController.signal);

  function linkSignal(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, disposeController.signal]) : disposeController.signal;
  }

  function checkOpen(signal: AbortSignal | undefined): void {
    if (disposeController.signal.aborted) {
      throw new SemclipError('INVALID_ARGUMENT', `Runner ${id} was disposed.`, { hint: 'Create a new runner with createRunner()' });
    }
    if (signal?.aborted) throw abortedError(signal);
  }

  interface Prepared {
    readonly text: string;
    readonly urls: readonly Uint8Array[];
    readonly sent: readonly EncodedImage[];
  }

  async function prepare(prompt: BuiltPrompt, signal: AbortSignal): Promise<Prepared> {
    let sent: EncodedImage[];
    if (imageMode === 'composite' && prompt.images.length > 1) {
      const { image } = await compositeImages(
        prompt.images.map((p: PromptImage) => p.image),
        encoding,
        separator,
      );
      sent = [image];
    } else {
      sent = await Promise.all(prompt.images.map((p) => encodeForUpstream(p.image, encoding)));
    }
    if (signal.aborted) throw abortedError(signal);
    return { text: prompt.text, urls: sent.map((im) => dataUrlBytes(im.mime, im.data)), sent };
  }

  async function complete(prepared: Prepared, extra: Record<string, unknown>, signal: AbortSignal): Promise<Completion> {
    const payload = jsonWithImages(
      (placeholder) => ({
        ...options.extraBody,
        model,
        messages: [
          {
            role: 'user',
            content: [...prepared.urls.map((_, i) => ({ type: 'image_url', image_url: { url: placeholder(i) } })), { type: 'text', text: prepared.text }],
          },
        ],
        temperature: 0,
        ...extra,
      }),
      prepared.urls,
    );
    const { json } = await postJson(http, payload, signal);
    return parseCompletion(json, http.displayUrl, secrets);
  }

  const id = options.id ?? `openai:${model}`;
  const layout = imageMode === 'composite' ? ('composite' as const) : ('separate' as const);

  const runner: OpenAIRunner = defineRunner({
    kind: 'openai' as const,
    id,
    model,
    baseUrl: display,
    imageMode,
    visualTokensPerImage,
    get capabilities(): VlmCapabilities {
      return {
        multiImage: imageMode === 'separate',
        logprobs: logprobsSupported !== false,
        embeddings: false,
        ...(imageMode === 'composite' ? { maxImages: 1 } : {}),
      };
    },
    get logprobsSupported() {
      return logprobsSupported;
    },

    async answer(request: AnswerRequest & OpenAIRequestExtras): Promise<VlmAnswer> {
      checkOpen(request.signal);
      const start = performance.now();
      const maxTokens = intArg('maxTokens', request.maxTokens, defaultMaxTokens);
      const prompt = buildPrompt(request, { layout, ...(options.templates ? { templates: options.templates } : {}) });
      const signal = linkSignal(request.signal);
      const prepared = await prepare(prompt, signal);
      const sent = prepared.sent;
      const result = await complete(prepared, { max_tokens: maxTokens }, signal);
      return {
        text: result.text.trim(),
        usage: { ...result.usage, visual: sent.length * visualTokensPerImage },
        latencyMs: performance.now() - start,
      };
    },

    async choose(request: ChooseRequest & OpenAIRequestExtras): Promise<VlmChoice> {
      checkOpen(request.signal);
      const start = performance.now();
      if (!Array.isArray(request.options)) {
        throw new SemclipError('INVALID_ARGUMENT', 'choose() needs options.', { expected: 'options like ["red", "blue"]' });
      }
      const prompt = buildPrompt(request, { layout, ...(options.templates ? { templates: options.templates } : {}) });
      const signal = linkSignal(request.signal);
      const prepared = await prepare(prompt, signal);
      const sent = prepared.sent;
      const visual = sent.length * visualTokensPerImage;
      const done = (index: number, scores: number[], method: 'logprobs' | 'letter', text: string, usage: Completion['usage']): VlmChoice => ({
        index,
        scores,
        method,
        text,
        usage: { ...usage, visual },
        latencyMs: performance.now() - start,
      });

      if (logprobsSupported !== false) {
        let result: Completion | undefined;
        try {
          result = await complete(prepared, { max_tokens: 1, logprobs: true, top_logprobs: topLogprobs }, signal);
        } catch (err) {
          const status = isSemclipError(err, 'UPSTREAM_ERROR') ? err.details?.status : undefined;
          if (logprobsMode === 'auto' && (status === 400 || status === 422)) {
            // The server refused the request with logprobs; the plain request below tells whether
            // logprobs were the problem (it succeeds) or the request itself (it fails the same way).
            result = undefined;
          } else if (logprobsMode === true && (status === 400 || status === 422)) {
            throw new SemclipError(
              'UNSUPPORTED_CAPABILITY',
              `${display} refused a request with logprobs: ${(err as SemclipError).details?.upstreamMessage as string}`,
              {
                cause: err,
                hint: "Use logprobs: 'auto' or false (--logprobs auto|off) for this server",
              },
            );
          } else throw err;
        }
        if (result) {
          if (result.top && result.top.length > 0) {
            logprobsSupported = true;
            const scores = scoresFromLogprobs(result.top, prompt.letters);
            if (scores) return done(argmax(scores), scores, 'logprobs', result.text, result.usage);
          } else if (logprobsMode === true) {
            throw new SemclipError('UNSUPPORTED_CAPABILITY', `${display} ignored logprobs: the response has no top_logprobs.`, {
              hint: "Use logprobs: 'auto' or false (--logprobs auto|off) for this server",
            });
          } else {
            logprobsSupported = false;
          }
          // No option letter among the top tokens (or no logprobs): the one generated token may still be the letter.
          const index = parseChoice(result.text, prompt.letters, request.options);
          if (index !== undefined && result.text.trim().length <= 3) {
            const scores = prompt.letters.map((_, i) => (i === index ? 0 : UNSEEN_SCORE));
            return done(index, scores, 'letter', result.text, result.usage);
          }
        }
      }

      const result = await complete(prepared, { max_tokens: 16 }, signal);
      if (logprobsMode === 'auto' && logprobsSupported === undefined) logprobsSupported = false;
      const index = parseChoice(result.text, prompt.letters, request.options);
      if (index === undefined) {
        throw new SemclipError(
          'MODEL_OUTPUT_INVALID',
          `The model's answer "${redact(result.text.slice(0, 80), secrets)}" names none of the options ${prompt.letters.join(', ')}.`,
          {
            hint: 'Pass an instruction that asks for the option letter only, or use a server with logprobs',
            details: { text: result.text, letters: prompt.letters },
          },
        );
      }
      const scores = prompt.letters.map((_, i) => (i === index ? 0 : UNSEEN_SCORE));
      return done(index, scores, 'letter', result.text, result.usage);
    },

    async answerLogprobs(request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]> {
      checkOpen(request?.signal);
      if (!request || !Array.isArray(request.prompts) || request.prompts.length === 0) {
        throw new SemclipError('INVALID_ARGUMENT', 'answerLogprobs() needs at least one prompt.', { expected: 'prompts: an array of image lists' });
      }
      const maxTokens = intArg('maxTokens', request.maxTokens, 3);
      const buildOptions = { layout, ...(options.templates ? { templates: options.templates } : {}) };
      const prompts = buildLogprobPrompts(request, buildOptions);
      const signal = linkSignal(request.signal);
      // Every prompt at once: postJson takes a slot of the runner's semaphore per request.
      return Promise.all(
        prompts.map(async (prompt): Promise<AnswerLogprobs> => {
          const prepared = await prepare(prompt, signal);
          const visual = prepared.sent.length * visualTokensPerImage;
          if (logprobsSupported !== false) {
            let result: Completion | undefined;
            try {
              result = await complete(prepared, { max_tokens: maxTokens, logprobs: true, top_logprobs: topLogprobs }, signal);
            } catch (err) {
              const status = isSemclipError(err, 'UPSTREAM_ERROR') ? err.details?.status : undefined;
              if (logprobsMode === 'auto' && (status === 400 || status === 422)) result = undefined;
              else if (logprobsMode === true && (status === 400 || status === 422)) {
                throw new SemclipError(
                  'UNSUPPORTED_CAPABILITY',
                  `${display} refused a request with logprobs: ${(err as SemclipError).details?.upstreamMessage as string}`,
                  {
                    cause: err,
                    hint: "Use logprobs: 'auto' or false (--logprobs auto|off) for this server",
                  },
                );
              } else throw err;
            }
            if (result?.top && result.top.length > 0) {
              logprobsSupported = true;
              return { method: 'logprobs', logprobs: result.top, text: result.text.trim(), usage: { ...result.usage, visual } };
            }
            if (result && logprobsMode === true) {
              throw new SemclipError('UNSUPPORTED_CAPABILITY', `${display} ignored logprobs: the response has no top_logprobs.`, {
                hint: "Use logprobs: 'auto' or false (--logprobs auto|off) for this server",
              });
            }
            if (result) {
              // Answered, without logprobs: the text is all there is.
              if (logprobsMode === 'auto') logprobsSupported = false;
              return { method: 'text', logprobs: undefined, text: result.text.trim(), usage: { ...result.usage, visual } };
            }
          }
          const result = await complete(prepared, { max_tokens: maxTokens }, signal);
          if (logprobsMode === 'auto' && logprobsSupported === undefined) logprobsSupported = false;
          return { method: 'text', logprobs: undefined, text: result.text.trim(), usage: { ...result.usage, visual } };
        }),
      );
    },

    dispose(): void {
      if (!disposeController.signal.aborted) disposeController.abort(new Error('runner disposed'));
    },
  });
  return runner;
}
