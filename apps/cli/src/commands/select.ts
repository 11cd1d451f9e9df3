import { defineCommand } from 'citty';
import { choiceArg, commonArgs, gridArgs, gridOptions, intArg, questionArg, selectArgs, selectOptionsFrom } from '../_args.js';
import { note, printJson, progressEnabled } from '../_output.js';
import { runPipeline } from '../_pipeline.js';
import { printSelection, selectionJson } from '../_selection-view.js';
import { cliSignal } from '../_signal.js';

export default defineCommand({
  meta: {
    name: 'select',
    description: 'Tile an image, score every tile against a question and select the tiles a VLM should see.',
  },
  args: {
    image: { type: 'positional', description: 'Image file', required: true },
    question: { type: 'positional', description: 'The question about the image (quote it)', required: true },
    ...gridArgs,
    ...selectArgs,
    overlay: { type: 'string', description: 'Write a heat-map PNG of the scores with the selected tiles outlined', valueHint: 'FILE' },
    ...commonArgs,
  },
  async run({ args }) {
    const question = questionArg(args.question);
    const { overlap, levels } = gridOptions(args);
    const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
    const device = choiceArg('device', args.device, ['cpu', 'cuda', 'auto'] as const);
    const result = await runPipeline({
      image: args.image,
      question,
      ...(args.scorer === undefined ? {} : { scorer: args.scorer }),
      ...(args.model === undefined ? {} : { model: args.model }),
      ...(seed === undefined ? {} : { seed }),
      ...(device === undefined ? {} : { device }),
      grid: args.grid,
      overlap,
      levels,
      select: selectOptionsFrom(args),
      ...(args.overlay ? { overlay: args.overlay } : {}),
      progress: progressEnabled(args),
      signal: cliSignal(),
      warn: note,
    });
    if (args.json) printJson(selectionJson(result));
    else printSelection(result);
  },
});
