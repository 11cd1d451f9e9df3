import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { defineCommand } from 'citty';
import { commonArgs, gridOptions, intArg, programName } from '../_args.js';
import { print, printJson, progressEnabled } from '../_output.js';
import { printSelection, selectionJson } from '../_selection-view.js';
import { cliSignal } from '../_signal.js';
import { DEMO_QUESTION } from '../_demo.js';
import { lightScorerOptions, runSelection } from './select.js';

export default defineCommand({
  meta: {
    name: 'demo',
    description: `Generate a 3000x2000 example photo with a small sign, ask "${DEMO_QUESTION}" and show which tile SemClip selects (no download).`,
  },
  args: {
    out: { type: 'string', description: 'Folder for the example image and overlay.png', default: './semclip-demo', valueHint: 'DIR' },
    grid: { type: 'string', description: 'Grid: RxC or auto', default: '2x2', valueHint: '2x2|3x3|auto' },
    scorer: { type: 'string', description: 'Relevance scorer id (default: ocr when available, else random)', valueHint: 'ID' },
    seed: { type: 'string', description: 'Seed for the random scorer', valueHint: 'N' },
    ...commonArgs,
  },
  async run({ args }) {
    const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
    const out = args.out;
    await mkdir(out, { recursive: true });
    const imagePath = join(out, 'waiting-room.jpg');
    const { renderDemoImage } = await import('../_demo-image.js');
    await writeFile(imagePath, await renderDemoImage());
    const result = await runSelection({
      image: imagePath,
      question: DEMO_QUESTION,
      pipeline: {
        ...(args.scorer === undefined ? {} : { scorer: args.scorer }),
        scorerOptions: lightScorerOptions({ seed }),
        grid: args.grid,
        ...gridOptions({}),
        select: { k: 1 },
      },
      overlay: join(out, 'overlay.png'),
      progress: progressEnabled(args),
      signal: cliSignal(),
    });
    if (args.json) {
      printJson(selectionJson(result));
      return;
    }
    const shown = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : `./${relative(process.cwd(), p)}`);
    print(`Generated ${shown(imagePath)}: a ${result.image.width}x${result.image.height} waiting room with a small "WAIT TIME" sign in the top-right corner.`);
    print(`Downscaled to the 336-pixel overview a VLM sees, the sign is a few pixels tall; SemClip hands the VLM the tile that holds it.`);
    print();
    printSelection(result);
    print();
    if (result.scorer.id === 'random') {
      print('Scores come from the random scorer (the ocr scorer is not installed in this build), so the choice above is chance.');
    } else {
      const top = result.selection.regions[0];
      print(
        top
          ? `The ${result.scorer.id} scorer picked tile ${top.tiles.join('+')}. Open ${shown(result.overlay ?? '')} to see the scores per tile.`
          : 'No tile was selected.',
      );
    }
    // After `pnpm demo` plain `semclip` is usually not on the PATH yet (README: "Your own images").
    print(`Try your own image: ${programName()} select photo.jpg "What does the sign say?" --grid 3x3 --overlay overlay.png`);
  },
});
