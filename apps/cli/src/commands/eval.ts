import { defineCommand } from 'citty';
import { commonArgs } from '../_args.js';
import { print, printJson } from '../_output.js';

const score = defineCommand({
  meta: {
    name: 'score',
    description:
      "Score a prediction file against a benchmark's questions, with the benchmark's own answer parsing and metrics (LLaVA conventions). " +
      'Example: semclip eval score --benchmark pope --data pope/rev_e3e3926 --predictions answers.jsonl',
  },
  args: {
    benchmark: {
      type: 'string',
      required: true,
      description: 'Benchmark: pope, gqa, scienceqa, vstar, mmbench, mmstar or seedbench',
      valueHint: 'pope|gqa|scienceqa|vstar|mmbench|mmstar|seedbench',
    },
    data: {
      type: 'string',
      required: true,
      description:
        'Question file or folder as the benchmark ships it (POPE folder or llava_pope_test.jsonl, GQA testdev_balanced_questions.json, ScienceQA folder or llava_test_CQM-A.json, V* folder or annotation JSONL, MMBench/MMStar TSV, SEED-Bench.json)',
      valueHint: 'PATH',
    },
    predictions: {
      type: 'string',
      required: true,
      description: "Answers: JSON lines with question_id and text (LLaVA answer files) or prediction; ScienceQA's result JSON; V*'s annotation file with output",
      valueHint: 'FILE',
    },
    annotations: {
      type: 'string',
      description: "Ground truth for LLaVA's POPE/GQA question files (POPE: folder of coco_pope_*.json; GQA: testdev_balanced_questions.json). Default: looked for beside --data",
      valueHint: 'PATH',
    },
    split: { type: 'string', description: 'ScienceQA problems.json: split of pid_splits.json (default test)', valueHint: 'NAME' },
    'allow-mismatch': {
      type: 'boolean',
      description: 'Score even when predictions were made for different questions than --data has under their ids (reported as mismatched)',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const { scorePredictions, scoreToJSON, formatScoreTable } = await import('@semclip/eval');
    const report = await scorePredictions({
      benchmark: args.benchmark,
      data: args.data,
      predictions: args.predictions,
      dataOptions: {
        ...(args.annotations ? { annotations: args.annotations } : {}),
        ...(args.split ? { split: args.split } : {}),
      },
      onMismatch: args['allow-mismatch'] ? 'warn' : 'error',
    });
    if (args.json) printJson(scoreToJSON(report));
    else print(formatScoreTable(report));
  },
});

/** `semclip eval`: benchmark evaluation. `score` grades existing prediction files. */
export const evalCommand = defineCommand({
  meta: { name: 'eval', description: 'Evaluate on benchmarks (V*, GQA, ScienceQA, POPE, MMBench, MMStar, SEED-Bench)' },
  subCommands: { score },
});

export default evalCommand;
