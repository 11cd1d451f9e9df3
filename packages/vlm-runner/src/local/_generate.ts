/** `answer`: greedy generation from one prompt, stoppable by the request's signal. */
import { throwIfAborted } from '@semclip/core';
import type { AnswerRequest, VlmAnswer } from '@semclip/core';
import { buildPrompt } from '../_prompt.js';
import { localIntOption, runError } from './_context.js';
import type { LocalCallContext } from './_context.js';
import type { Any } from './_families.js';
import { prepareInputs } from './_inputs.js';
import type { LocalRequestExtras } from './_types.js';

/** One stopping-criteria class per transformers.js module: stops every sequence once the signal fires. */
const abortCriteriaClasses = new WeakMap<object, new (signal: AbortSignal | undefined) => unknown>();

function abortCriteria(tf: Any, signal: AbortSignal | undefined): unknown {
  let AbortCriteria = abortCriteriaClasses.get(tf);
  if (!AbortCriteria) {
    AbortCriteria = class extends (tf as Any).StoppingCriteria {
      constructor(private readonly signal: AbortSignal | undefined) {
        super();
      }
      _call(inputIds: unknown[]): boolean[] {
        return inputIds.map(() => this.signal?.aborted ?? false);
      }
    };
    abortCriteriaClasses.set(tf, AbortCriteria);
  }
  return new AbortCriteria(signal);
}

/** Generates up to `maxTokens` (the request's, else `defaultMaxTokens`) greedily and decodes the new tokens. */
export async function generateAnswer(run: LocalCallContext, request: AnswerRequest & LocalRequestExtras, defaultMaxTokens: number): Promise<VlmAnswer> {
  run.checkOpen(request.signal);
  const start = performance.now();
  const maxTokens = localIntOption('maxTokens', request.maxTokens, defaultMaxTokens);
  const prompt = buildPrompt(request, run.buildOptions);
  return run.lock.run(async () => {
    run.checkOpen(request.signal);
    const { inputs, promptTokens, imageTokens } = await prepareInputs(run, prompt, 'answer', request.signal);
    let sequences: Any;
    try {
      sequences = await run.model.generate({
        ...inputs,
        max_new_tokens: maxTokens,
        do_sample: false,
        stopping_criteria: [abortCriteria(run.tf, request.signal)],
      });
    } catch (err) {
      throw runError(run.label, err, 'generation');
    } finally {
      run.features.expected = undefined;
    }
    throwIfAborted(request.signal);
    const generated = sequences.slice(null, [promptTokens, null]);
    const completion: number = generated.dims[1];
    const [decoded] = run.tokenizer.batch_decode(generated, { skip_special_tokens: true }) as string[];
    return {
      text: (decoded ?? '').trim(),
      usage: { prompt: promptTokens, completion, visual: imageTokens },
      latencyMs: performance.now() - start,
    };
  }, request.signal);
}
