/**
 * Scoring by log-likelihood: `choose` (each option's letter or text after the prompt) and
 * `answerLogprobs` (candidate answer starts after many prompts, batched). Multi-token answers
 * continue from the prompt's KV cache where the family allows, else re-run the prompt.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { ChooseRequest, VlmChoice } from '@semclip/core';
import { buildPrompt } from '../_prompt.js';
import { argmax } from '../_choose.js';
import type { TopLogprob } from '../_choose.js';
import { buildLogprobPrompts } from '../_answer-logprobs.js';
import type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
import { int64, localIntOption, ones, runError } from './_context.js';
import type { LocalCallContext } from './_context.js';
import type { Any } from './_families.js';
import { prepareInputs } from './_inputs.js';
import { logProbAt, logitsOf, pastFrom } from './_score.js';
import type { LocalRequestExtras } from './_types.js';

/**
 * Scores every option by the summed log-probability of its answer tokens (`letter`: the option's
 * letter; `text`: its own text) after the prompt, from one prefill; the best is the choice.
 */
export async function chooseByLikelihood(run: LocalCallContext, request: ChooseRequest & LocalRequestExtras, chooseBy: 'letter' | 'text'): Promise<VlmChoice> {
  const { tf, model, tokenizer, family, label } = run;
  run.checkOpen(request.signal);
  const start = performance.now();
  if (!Array.isArray(request.options)) {
    throw new SemclipError('INVALID_ARGUMENT', 'choose() needs options.', { expected: 'options like ["red", "blue"]' });
  }
  const prompt = buildPrompt(request, run.buildOptions);
  const answers = chooseBy === 'letter' ? [...prompt.letters] : request.options.map((o) => o.trim());
  const answerIds = answers.map((a) => Array.from(tokenizer.encode(a, { add_special_tokens: false }) as number[], Number));
  answerIds.forEach((ids, i) => {
    if (ids.length === 0) throw new SemclipError('INVALID_ARGUMENT', `Option ${i + 1} tokenises to nothing.`, { expected: 'non-empty option text' });
  });
  return run.lock.run(async () => {
    run.checkOpen(request.signal);
    const { inputs, promptTokens, imageTokens } = await prepareInputs(run, prompt, 'choose', request.signal);
    const scores: number[] = [];
    try {
      const prefill = await model(inputs);
      run.features.expected = undefined;
      const prefillLogits = logitsOf(prefill, `Model ${label}`);
      const promptIds = Array.from(inputs.input_ids.data as BigInt64Array);
      for (const ids of answerIds) {
        throwIfAborted(request.signal);
        let score = logProbAt(prefillLogits, promptTokens - 1, ids[0]!, `Model ${label}`);
        if (ids.length > 1) {
          const rest = ids.slice(0, -1).map(BigInt);
          let out: Any;
          let offset: number;
          if (family.cacheContinuation) {
            // Continue from the prompt's KV cache: only the answer tokens are run.
            out = await model({ input_ids: int64(tf, [rest]), attention_mask: ones(tf, 1, promptTokens + rest.length), past_key_values: pastFrom(prefill) });
            offset = 0;
          } else {
            const all = [...promptIds, ...rest];
            out = await model({ ...inputs, input_ids: int64(tf, [all]), attention_mask: ones(tf, 1, all.length) });
            offset = promptTokens - 1;
          }
          const logits = logitsOf(out, `Model ${label}`);
          for (let j = 1; j < ids.length; j++) score += logProbAt(logits, offset + j - 1, ids[j]!, `Model ${label}`);
        }
        scores.push(score);
      }
    } catch (err) {
      throw runError(label, err, 'scoring the options');
    } finally {
      run.features.expected = undefined;
    }
    const index = argmax(scores);
    return {
      index,
      scores,
      method: 'loglikelihood' as const,
      text: answers[index],
      usage: { prompt: promptTokens, visual: imageTokens },
      latencyMs: performance.now() - start,
    };
  }, request.signal);
}

/**
 * The exact log-likelihood of every candidate's tokens after each prompt; prompts with
 * identical tokens share a forward pass, `batchSize` at a time.
 */
export async function answerLogprobs(run: LocalCallContext, request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]> {
  const { tf, model, tokenizer, family, label } = run;
  const signal = request?.signal;
  run.checkOpen(signal);
  if (!request || !Array.isArray(request.prompts) || request.prompts.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'answerLogprobs() needs at least one prompt.', { expected: 'prompts: an array of image lists' });
  }
  if (!Array.isArray(request.candidates) || request.candidates.length === 0 || request.candidates.some((c) => typeof c !== 'string' || c === '')) {
    throw new SemclipError('INVALID_ARGUMENT', 'answerLogprobs() needs candidate answers.', { expected: 'candidates like ["Yes", "No"]' });
  }
  const batchSize = localIntOption('batchSize', request.batchSize, 4);
  // Spellings with the same tokens are scored once.
  const spellings = request.candidates.map((c) => ({ text: c, ids: Array.from(tokenizer.encode(c, { add_special_tokens: false }) as number[], Number) }));
  const sequences = [...new Map(spellings.map((s) => [s.ids.join(','), s.ids])).values()];
  if (sequences.some((ids) => ids.length === 0)) {
    throw new SemclipError('INVALID_ARGUMENT', 'A candidate answer tokenises to nothing.', { expected: 'non-empty candidates' });
  }
  const prompts = buildLogprobPrompts(request, run.buildOptions);
  return run.lock.run(async () => {
    run.checkOpen(signal);
    try {
      return await scoreBatches();
    } finally {
      run.features.expected = undefined;
    }
  }, signal);

  async function scoreBatches(): Promise<AnswerLogprobs[]> {
    const results: AnswerLogprobs[] = [];
    type Prepared = { inputs: Record<string, Any>; promptTokens: number; imageTokens: number; ids: bigint[] };
    let carried: Prepared | undefined;
    let next = 0;
    while (carried || next < prompts.length) {
      throwIfAborted(signal);
      // A batch: up to batchSize consecutive prompts with identical tokens (same text, same
      // image token counts); a prompt that differs starts the next batch.
      const batch: Prepared[] = carried ? [carried] : [];
      carried = undefined;
      while (next < prompts.length && batch.length < batchSize) {
        const prepared = await prepareInputs(run, prompts[next]!, 'answerLogprobs', signal);
        next++;
        const entry = { ...prepared, ids: Array.from(prepared.inputs.input_ids.data as BigInt64Array) };
        if (batch.length > 0 && entry.ids.join(',') !== batch[0]!.ids.join(',')) {
          carried = entry;
          break;
        }
        batch.push(entry);
      }
      const B = batch.length;
      const T = batch[0]!.promptTokens;
      const first = batch[0]!.inputs;
      const inputs: Record<string, Any> = {};
      for (const [key, value] of Object.entries(first)) {
        if (key === 'input_ids' || key === 'attention_mask') continue;
        inputs[key] =
          B === 1
            ? value
            : value?.dims
              ? tf.cat(
                  batch.map((b) => b.inputs[key]),
                  0,
                )
              : value;
      }
      inputs.input_ids = int64(
        tf,
        batch.map((b) => b.ids),
      );
      inputs.attention_mask = ones(tf, B, T);
      run.features.expected = batch.reduce((n, b) => n + b.imageTokens, 0);
      const scores: number[][] = batch.map(() => sequences.map(() => 0));
      const argmaxIds: number[] = [];
      try {
        const prefill = await model(inputs);
        run.features.expected = undefined;
        const logits = logitsOf(prefill, `Model ${label}`);
        for (let b = 0; b < B; b++) {
          const row = b * T + T - 1;
          sequences.forEach((ids, k) => (scores[b]![k] = logProbAt(logits, row, ids[0]!, `Model ${label}`)));
          const offset = row * logits.vocab;
          let best = 0;
          for (let v = 1; v < logits.vocab; v++) if (logits.data[offset + v]! > logits.data[offset + best]!) best = v;
          argmaxIds.push(best);
        }
        for (const [k, ids] of sequences.entries()) {
          if (ids.length === 1) continue;
          throwIfAborted(signal);
          const rest = ids.slice(0, -1).map(BigInt);
          let out: Any;
          let offset: number;
          let seq: number;
          if (family.cacheContinuation) {
            // Continue from the prompts' KV cache: only the candidate's tokens are run.
            out = await model({
              input_ids: int64(
                tf,
                batch.map(() => rest),
              ),
              attention_mask: ones(tf, B, T + rest.length),
              past_key_values: pastFrom(prefill),
            });
            offset = 0;
            seq = rest.length;
          } else {
            out = await model({
              ...inputs,
              input_ids: int64(
                tf,
                batch.map((b) => [...b.ids, ...rest]),
              ),
              attention_mask: ones(tf, B, T + rest.length),
            });
            offset = T - 1;
            seq = T + rest.length;
          }
          const more = logitsOf(out, `Model ${label}`);
          for (let b = 0; b < B; b++) {
            for (let j = 1; j < ids.length; j++) scores[b]![k]! += logProbAt(more, b * seq + offset + j - 1, ids[j]!, `Model ${label}`);
          }
        }
      } catch (err) {
        throw runError(label, err, 'scoring the answers');
      } finally {
        run.features.expected = undefined;
      }
      batch.forEach((b, i) => {
        const logprobs: TopLogprob[] = spellings.map((s) => ({
          token: s.text,
          logprob: scores[i]![sequences.findIndex((ids) => ids.join(',') === s.ids.join(','))]!,
        }));
        const text = String(tokenizer.decode([argmaxIds[i]!], { skip_special_tokens: true }) ?? '');
        results.push({
          method: 'logits',
          logprobs,
          tokenCounts: spellings.map((sp) => sp.ids.length),
          text,
          usage: { prompt: b.promptTokens, visual: b.imageTokens },
        });
      });
    }
    return results;
  }
}
