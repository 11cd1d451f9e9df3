/**
 * `semclip train`: trains the relevance head of the `distant` scorer from a labels file
 * (`semclip label`) over a frozen CLIP/SigLIP, and writes it into the model cache.
 */
import { defineCommand } from 'citty';
import { choiceArg, commonArgs, intArg, numberArg } from '../_args.js';
import { createProgress, fmtMs, fmtNumber, note, print, printJson, progressEnabled } from '../_output.js';
import { cliSignal } from '../_signal.js';

function rate(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(3);
}

export const trainCommand = defineCommand({
  meta: {
    name: 'train',
    description:
      'Train a relevance head (the distant scorer) on a labels file from `semclip label`: margin ranking loss over (positive, negative) tiles, ' +
      'frozen CLIP/SigLIP embeddings cached on disk. Example: semclip train --labels labels.jsonl --base clip-vit-large-patch14 --out sqa-clip-l14',
  },
  args: {
    labels: { type: 'string', required: true, description: 'Labels file written by semclip label', valueHint: 'FILE' },
    base: {
      type: 'string',
      required: true,
      description: 'Frozen base model: a clip or siglip model id from `semclip models list`, or a folder of (fine-tuned) towers in the Hugging Face layout',
      valueHint: 'ID|DIR',
    },
    out: {
      type: 'string',
      description: 'Head name (its folder under <cache>/heads; use it as --model with --scorer distant). Default <labels>-<base>',
      valueHint: 'NAME',
    },
    lr: { type: 'string', description: 'Adam learning rate (default 1e-4)', valueHint: 'LR' },
    batch: { type: 'string', description: 'Pairs per step (default 64)', valueHint: 'N' },
    epochs: { type: 'string', description: 'Epochs (default 10); the epoch with the lowest training loss is kept', valueHint: 'N' },
    margin: { type: 'string', description: 'Margin m of max(0, m - s(pos) + s(neg)) on cosine scores (default 0.2)', valueHint: 'M' },
    seed: { type: 'string', description: 'Seed of the held-out split and the shuffling (default 0); same seed, same weights', valueHint: 'N' },
    holdout: { type: 'string', description: 'Fraction of items held out for the per-epoch metrics (default 0.1; 0 = none)', valueHint: 'F' },
    'weight-decay': { type: 'string', description: 'Decoupled weight decay towards the identity (default 0)', valueHint: 'W' },
    device: { type: 'string', description: 'Where the base model runs: cpu, cuda, webgpu or auto', valueHint: 'cpu|cuda|webgpu|auto' },
    pull: { type: 'boolean', description: 'Download the base model first if it is not in the cache' },
    ...commonArgs,
  },
  async run({ args }) {
    const lr = numberArg('lr', args.lr, Number.MIN_VALUE, 1, 'a learning rate above 0 and at most 1, like 1e-4');
    const batchSize = intArg('batch', args.batch, 1, 1 << 20);
    const epochs = intArg('epochs', args.epochs, 1, 100_000);
    const margin = numberArg('margin', args.margin, 0, 2);
    const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
    const holdout = numberArg('holdout', args.holdout, 0, 0.99);
    const weightDecay = numberArg('weight-decay', args['weight-decay'], 0);
    const device = choiceArg('device', args.device, ['cpu', 'cuda', 'webgpu', 'auto'] as const);
    const { trainFromLabels, DEFAULT_HYPERPARAMETERS } = await import('@semclip/trainer');
    const signal = cliSignal();
    const enabled = progressEnabled(args);
    let embedBar: ReturnType<typeof createProgress> | undefined;
    let trainBar: ReturnType<typeof createProgress> | undefined;
    const epochsTotal = epochs ?? DEFAULT_HYPERPARAMETERS.epochs;
    try {
      const result = await trainFromLabels({
        labels: args.labels,
        base: args.base,
        ...(args.out === undefined ? {} : { name: args.out }),
        ...(lr === undefined ? {} : { lr }),
        ...(batchSize === undefined ? {} : { batchSize }),
        ...(epochs === undefined ? {} : { epochs }),
        ...(margin === undefined ? {} : { margin }),
        ...(seed === undefined ? {} : { seed }),
        ...(holdout === undefined ? {} : { holdout }),
        ...(weightDecay === undefined ? {} : { weightDecay }),
        ...(device === undefined ? {} : { device }),
        ...(args.pull ? { autoPull: true } : {}),
        warn: note,
        signal,
        onEmbed: (p) => {
          embedBar ??= createProgress('embed', p.total, { enabled });
          embedBar.update(p.done, `${p.cached} cached`);
          if (p.done === p.total) embedBar.done();
        },
        onStep: (p) => {
          if (!trainBar) {
            embedBar?.done();
            trainBar = createProgress('train', epochsTotal * p.stepsPerEpoch, { enabled });
          }
          trainBar.update((p.epoch - 1) * p.stepsPerEpoch + p.step, `epoch ${p.epoch}/${epochsTotal} loss ${fmtNumber(p.loss)}`);
        },
        onEpoch: (r) => {
          if (args.json) return;
          const h = r.holdout;
          const line =
            `epoch ${String(r.epoch).padStart(3)}  loss ${r.trainLoss.toFixed(4)}` +
            (h ? `  held-out top-1 ${rate(h.top1HitRate)} (chance ${rate(h.top1Chance)})  pairwise ${rate(h.pairwiseAccuracy)}` : '') +
            (r.epoch > 0 ? `  ${Math.round(r.pairsPerSecond)} pairs/s` : '  (untrained: the base cosine)') +
            (r.best ? '  *' : '');
          // Clear the bar's line so the epoch line is not drawn over it.
          if (trainBar && process.stderr.isTTY) process.stderr.write('\r\u001b[2K');
          print(line);
        },
      });
      trainBar?.done();
      if (args.json) {
        printJson({
          name: result.name,
          dir: result.head.dir,
          manifest: result.head.manifestPath,
          onnx: result.head.onnxPath,
          charts: result.charts,
          base: result.base,
          hyperparameters: result.train.hyperparameters,
          labels: result.labels,
          embeddings: result.embeddings,
          split: { train: result.train.split.train.length, holdout: result.train.split.holdout.length },
          pairs: result.train.pairs,
          bestEpoch: result.train.bestEpoch,
          best: result.best,
          history: result.train.history,
        });
        return;
      }
      const b = result.best;
      const base = result.train.history[0]?.holdout;
      print('');
      print(`Head ${result.name}: kept epoch ${b.epoch} (lowest training loss ${b.trainLoss.toFixed(4)})`);
      if (b.holdout && base) {
        print(
          `  held-out top-1 hit rate   ${rate(base.top1HitRate)} -> ${rate(b.holdout.top1HitRate)} (chance ${rate(b.holdout.top1Chance)}, ${b.holdout.items} items)`,
        );
        print(`  held-out pairwise acc.    ${rate(base.pairwiseAccuracy)} -> ${rate(b.holdout.pairwiseAccuracy)} (${b.holdout.pairs} pairs)`);
      }
      print(`  pairs                     ${result.train.pairs.train} train, ${result.train.pairs.holdout} held out`);
      print(`  embeddings                ${result.embeddings.computed} items encoded, ${result.embeddings.cached} from the cache`);
      print(`  head                      ${result.head.onnxPath}`);
      print(`  loss curve                ${result.charts.svg} (.png)`);
      print(`Use it: semclip select <image> <question> --scorer distant --model ${result.name}   (${fmtMs(b.elapsedMs)} per epoch)`);
    } finally {
      embedBar?.done();
      trainBar?.done();
    }
  },
});

export default trainCommand;
