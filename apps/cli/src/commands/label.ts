/**
 * `semclip label`: distant supervision. Every tile of every training item is shown to a VLM with
 * the overview; the tiles with which it answers right are positives, the others negatives. Writes
 * (and resumes) a JSON-lines labels file for `semclip train`.
 */
import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import { choiceArg, commonArgs, intArg, padArg, padArgs } from '../_args.js';
import { createProgress, fmtMs, note, print, printJson, progressEnabled } from '../_output.js';
import { cliSignal } from '../_signal.js';

/** "1h 02m", "3m 12s", "45s": an ETA for the progress line. */
export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export const labelCommand = defineCommand({
  meta: {
    name: 'label',
    description:
      'Label tiles for training by distant supervision: ask a VLM each question once per tile (overview + that tile) and record which tiles make it answer right. ' +
      'Resumable: run it again to continue. Example: semclip label --data data/scienceqa --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf --out labels.jsonl',
  },
  args: {
    data: {
      type: 'string',
      required: true,
      description:
        'Question file or folder as the benchmark ships it (ScienceQA: the folder with problems.json and pid_splits.json; see `semclip eval score --help` for every layout)',
      valueHint: 'PATH',
    },
    benchmark: {
      type: 'string',
      description: 'Benchmark the data is in: scienceqa (default), vstar, gqa, pope, mmbench, mmstar, seedbench',
      default: 'scienceqa',
      valueHint: 'NAME',
    },
    vlm: {
      type: 'string',
      description: 'The VLM that judges the tiles: openai:<base-url>#<model> or local:<model-id>. Default: $SEMCLIP_VLM',
      valueHint: 'SPEC',
    },
    grid: { type: 'string', description: 'Grid every image is cut into: RxC (like 2x2) or auto', default: '2x2', valueHint: '2x2|3x3|auto' },
    strategy: {
      type: 'string',
      description:
        "Which regions get labels: topk (every grid tile, the paper's; default) or zoom (the quadtree nodes a zoom search asks the VLM about, at several scales; multiple-choice data only). adaptive and pack are refused: adaptive picks among the tiles topk labels all of, and pack sends a composed image that is no region of the photo",
      valueHint: 'topk|zoom',
    },
    'max-calls': {
      type: 'string',
      description: 'zoom: VLM calls per item (default 12; τ is 1, so the search spends them all unless the answer is certain)',
      valueHint: 'N',
    },
    out: { type: 'string', description: 'Labels file (JSON lines); an existing one is resumed', default: 'labels.jsonl', valueHint: 'FILE' },
    concurrency: { type: 'string', description: 'VLM requests in flight at once (default 16)', valueHint: 'N' },
    limit: { type: 'string', description: 'Label only the first N items', valueHint: 'N' },
    split: {
      type: 'string',
      description:
        "ScienceQA split of pid_splits.json (default train, as the method trains on). Items the data's own split file puts in another split are refused; the labels header records the true split",
      valueHint: 'NAME',
    },
    images: { type: 'string', description: 'Folder of the benchmark images when not in the default place', valueHint: 'DIR' },
    annotations: { type: 'string', description: "Ground truth for LLaVA's POPE/GQA question files (see semclip eval score --help)", valueHint: 'PATH' },
    'all-questions': { type: 'boolean', description: 'ScienceQA: keep text-only questions too (they have no image and are reported as failed)' },
    timeout: { type: 'string', description: 'Seconds to wait for the VLM per attempt (default 120)', valueHint: 'S' },
    retries: { type: 'string', description: 'Retries on 429, 5xx and dropped connections (default 3)', valueHint: 'N' },
    'max-side': { type: 'string', description: 'Long-side cap in pixels of each image sent (default 1024)', valueHint: 'PX' },
    ...padArgs,
    'force-unlock': {
      type: 'boolean',
      description:
        'Take --out even when another run holds its lock (<out>.lock): only when that run is gone, e.g. its machine was lost. A lock left by a killed run on this machine is taken over without it',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const concurrency = intArg('concurrency', args.concurrency, 1, 1024) ?? 16;
    const limit = intArg('limit', args.limit, 1);
    const strategy = choiceArg('strategy', args.strategy ?? 'topk', ['topk', 'adaptive', 'zoom', 'pack'] as const);
    const maxCalls = intArg('max-calls', args['max-calls'], 1, 1000);
    if (maxCalls !== undefined && strategy !== 'zoom') {
      throw new SemclipError('INVALID_ARGUMENT', '--max-calls applies to --strategy zoom only.', { hint: 'Add --strategy zoom, or drop --max-calls' });
    }
    const timeoutS = intArg('timeout', args.timeout, 1, 86400);
    const retries = intArg('retries', args.retries, 0, 20);
    const maxSide = intArg('max-side', args['max-side'], 16, 16384);
    const padding = padArg(args.pad);
    const spec = args.vlm ?? process.env.SEMCLIP_VLM;
    if (!spec) {
      throw new SemclipError('INVALID_ARGUMENT', 'No VLM given.', {
        expected: '--vlm openai:<base-url>#<model>, e.g. --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf',
        hint: 'Pass --vlm or set SEMCLIP_VLM',
      });
    }
    const [{ loadBenchmark, assertBenchmark }, { createPipeline }, vlmRunner, { labelDataset }] = await Promise.all([
      import('@semclip/eval'),
      import('@semclip/pipeline'),
      import('@semclip/vlm-runner'),
      import('@semclip/trainer'),
    ]);
    const benchmark = assertBenchmark(args.benchmark ?? 'scienceqa');
    const imageFormat = maxSide === undefined ? undefined : { format: 'jpeg' as const, maxSide, quality: 90 };
    // Labelling asks the VLM with every tile, so the pipeline has no scorer. Creating it checks the
    // grid and image format before any data is read; the one used is made with the runner below.
    // The padding (by the VLM's family, or --pad) is recorded in the labels header.
    const pipelineOptions = { scorer: false as const, grid: args.grid ?? '2x2', padding, ...(imageFormat ? { imageFormat } : {}) };
    createPipeline(pipelineOptions);
    const runnerConfig = vlmRunner.parseRunnerSpec(spec);
    if (runnerConfig.kind !== 'openai') {
      const httpOnly = (['timeout', 'retries'] as const).filter((f) => args[f] !== undefined);
      if (httpOnly.length > 0) {
        throw new SemclipError('INVALID_ARGUMENT', `--${httpOnly.join(', --')} only appl${httpOnly.length === 1 ? 'ies' : 'y'} to openai: runners.`, {
          hint: `Drop --${httpOnly.join(', --')}`,
        });
      }
    }
    const split = benchmark === 'scienceqa' ? (args.split ?? 'train') : args.split;
    const signal = cliSignal();
    const dataset = await loadBenchmark(benchmark, args.data, {
      ...(split === undefined ? {} : { split }),
      ...(benchmark === 'scienceqa' && !args['all-questions'] ? { subset: 'img' as const } : {}),
      ...(args.images ? { images: args.images } : {}),
      ...(args.annotations ? { annotations: args.annotations } : {}),
    });
    for (const w of dataset.warnings) note(w);
    if (split !== undefined && dataset.splits === undefined && benchmark === 'scienceqa') {
      note(`which ScienceQA split ${dataset.source} holds is unknown (no pid_splits.json beside it); the labels header records split null`);
    }
    if (!dataset.hasAnswers) {
      throw new SemclipError('DATASET_INVALID', `${dataset.source} holds no ground truth, so the VLM's answers cannot be checked.`, {
        hint: 'Point --annotations at the ground truth, or use a split with answers',
      });
    }
    const runner = await vlmRunner.createRunner(
      runnerConfig,
      runnerConfig.kind === 'openai'
        ? {
            // The runner's own limit must not be tighter than ours.
            concurrency,
            ...(timeoutS === undefined ? {} : { timeoutMs: timeoutS * 1000 }),
            ...(retries === undefined ? {} : { retries }),
            ...(imageFormat ? { image: imageFormat } : {}),
            onRetry: (info) => note(`VLM request failed (${info.reason}); retry ${info.attempt} in ${fmtMs(info.delayMs)}`),
          }
        : {},
    );
    // The runner's model id picks the image policy (visual tokens per family).
    const pipeline = createPipeline({ ...pipelineOptions, runner });
    const total = limit === undefined ? dataset.items.length : Math.min(limit, dataset.items.length);
    const bar = createProgress('label', total, { enabled: progressEnabled(args) });
    let itemErrors = 0;
    try {
      const summary = await labelDataset({
        items: dataset.items,
        runner,
        out: args.out ?? 'labels.jsonl',
        source: { benchmark, path: args.data, ...(split === undefined ? {} : { split }), ...(dataset.splits ? { splits: dataset.splits } : {}) },
        pipeline,
        concurrency,
        // adaptive and pack go through, so the labeller's error says why they are refused.
        ...(strategy === 'topk' ? {} : { strategy: strategy as 'zoom' }),
        ...(maxCalls === undefined ? {} : { zoom: { maxCalls } }),
        ...(limit === undefined ? {} : { limit }),
        signal,
        ...(args['force-unlock'] ? { forceUnlock: true } : {}),
        command: `semclip ${process.argv.slice(2).join(' ')}`.trim(),
        onNote: note,
        onProgress: (p) => {
          const eta = p.etaMs === undefined ? '' : ` ETA ${fmtDuration(p.etaMs)}`;
          bar.update(p.done, `${p.rate.toFixed(2)} items/s${eta}${p.skipped ? `, ${p.skipped} skipped` : ''}${p.failed ? `, ${p.failed} failed` : ''}`);
        },
        onItemError: (id, err) => {
          // A dataset with thousands of missing images should not bury the progress in notes.
          itemErrors += 1;
          if (itemErrors <= 10) note(`item ${id} skipped: ${err.message}`);
          else if (itemErrors === 11) note('more items could not be read; the summary counts them (--json lists the first 20)');
        },
      });
      bar.done();
      if (args.json) {
        printJson({ ...summary, benchmark, data: dataset.source, vlm: { id: runner.id, model: runner.model } });
        return;
      }
      print(`Labelled ${summary.out}`);
      print(
        `  items           ${summary.items} (${summary.resumed} already done, ${summary.written} this run${summary.failed ? `, ${summary.failed} failed` : ''})`,
      );
      print(`  labelled        ${summary.labelled}`);
      print(`  skipped         ${summary.skippedAllPositive} all-positive, ${summary.skippedAllNegative} all-negative`);
      print(`  pairs           ${summary.pairs}`);
      print(`  positive rate   ${pct(summary.positiveRate)}`);
      print(`  VLM requests    ${summary.requests} in ${fmtMs(summary.elapsedMs)}`);
      if (summary.droppedBytes > 0)
        note(`dropped a partly written last line (${summary.droppedBytes} bytes) left by an interrupted run; that item was labelled again`);
      if (summary.repeatedLines > 0 || summary.extraHeaders > 0) {
        const what = [
          ...(summary.repeatedLines > 0 ? [`${summary.repeatedLines} repeated item lines (the first of each counts)`] : []),
          ...(summary.extraHeaders > 0 ? [`${summary.extraHeaders} repeated header line${summary.extraHeaders === 1 ? '' : 's'} (ignored)`] : []),
        ];
        note(`${summary.out} holds ${what.join(' and ')}: two runs wrote it at once (an older SemClip without the writer lock); nothing was asked again`);
      }
      if (summary.failed > 0) note(`${summary.failed} item(s) could not be read; fix them and run again to label them`);
      if (summary.labelled > 0) print(`Next: semclip train --labels ${summary.out} --base clip-vit-base-patch32`);
    } finally {
      bar.done();
      await pipeline.dispose();
      await runner.dispose();
    }
  },
});

export default labelCommand;
