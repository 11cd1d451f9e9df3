import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { closestMatch } from './_args.js';
import { CLI, PHOTO, REPO_ROOT, semclip, tempDir } from './_cli-harness.js';

// These tests run the built CLI (`pnpm test` runs tsup first) on a real 4032x3024 photo.

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const ANSI = /\u001b\[/;

let tmp: string;
beforeAll(async () => {
  tmp = await tempDir();
});

interface TilesJson {
  image: { width: number; height: number };
  grid: { rows: number; cols: number };
  tiles: Array<{ index: number; row: number; col: number; box: { x: number; y: number; width: number; height: number }; file?: string }>;
}

/** The tiles must cover every pixel: each row of tiles spans the width, each column the height, with no gaps. */
function expectCoverage(json: TilesJson): void {
  const { width: W, height: H } = json.image;
  for (const t of json.tiles) {
    expect(t.box.x).toBeGreaterThanOrEqual(0);
    expect(t.box.y).toBeGreaterThanOrEqual(0);
    expect(t.box.x + t.box.width).toBeLessThanOrEqual(W);
    expect(t.box.y + t.box.height).toBeLessThanOrEqual(H);
  }
  for (let r = 0; r < json.grid.rows; r++) {
    const row = json.tiles.filter((t) => t.row === r).sort((a, b) => a.col - b.col);
    expect(row).toHaveLength(json.grid.cols);
    expect(row[0]!.box.x).toBe(0);
    for (let i = 1; i < row.length; i++) expect(row[i]!.box.x).toBeLessThanOrEqual(row[i - 1]!.box.x + row[i - 1]!.box.width);
    expect(row.at(-1)!.box.x + row.at(-1)!.box.width).toBe(W);
  }
  for (let c = 0; c < json.grid.cols; c++) {
    const col = json.tiles.filter((t) => t.col === c).sort((a, b) => a.row - b.row);
    expect(col[0]!.box.y).toBe(0);
    for (let i = 1; i < col.length; i++) expect(col[i]!.box.y).toBeLessThanOrEqual(col[i - 1]!.box.y + col[i - 1]!.box.height);
    expect(col.at(-1)!.box.y + col.at(-1)!.box.height).toBe(H);
  }
}

describe('semclip tiles', () => {
  it.each([
    ['2x2', 0, 2, 2],
    ['3x3', 0, 3, 3],
    ['3x3', 0.1, 3, 3],
    ['auto', 0, 2, 3], // 4032x3024 with at most 9 tiles: 2x3 gives the squarest tiles (1344x1512)
  ] as const)('--grid %s --overlap %s --json prints the image, grid and tile boxes covering the photo', async (grid, overlap, rows, cols) => {
    const res = await semclip(['tiles', PHOTO, '--grid', grid, '--overlap', String(overlap), '--json']);
    expect(res.stderr).toBe('');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const json = JSON.parse(res.stdout) as TilesJson;
    expect(json.image).toMatchObject({ width: 4032, height: 3024 });
    expect(json.grid).toMatchObject({ rows, cols });
    expect(json.tiles).toHaveLength(rows * cols);
    json.tiles.forEach((t, i) => {
      expect(t).toMatchObject({ index: i, row: Math.floor(i / cols), col: i % cols });
      expect(Object.keys(t.box).sort()).toEqual(['height', 'width', 'x', 'y']);
    });
    if (overlap === 0) expect(json.tiles.reduce((a, t) => a + t.box.width * t.box.height, 0)).toBe(4032 * 3024);
    else expect(json.tiles.reduce((a, t) => a + t.box.width * t.box.height, 0)).toBeGreaterThan(4032 * 3024);
    expectCoverage(json);
  });

  it('--out writes the overview and every tile, at --size', async () => {
    const out = join(tmp, 'tiles-out');
    const res = await semclip(['tiles', PHOTO, '--grid', '2x2', '--out', out, '--size', '64', '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const json = JSON.parse(res.stdout) as TilesJson;
    const files = (await readdir(out)).sort();
    expect(files).toHaveLength(5);
    expect(files).toContain('overview.png');
    for (const t of json.tiles) {
      const meta = await sharp(t.file!).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    }
  });

  it('--out without --size writes native-resolution tiles', async () => {
    // A small generated image keeps PNG encoding fast; the real photo is covered above.
    const image = join(tmp, 'small.png');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 120, b: 40 } } })
      .png()
      .toFile(image);
    const out = join(tmp, 'tiles-native');
    const res = await semclip(['tiles', image, '--grid', '1x2', '--out', out, '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const json = JSON.parse(res.stdout) as TilesJson;
    for (const t of json.tiles) {
      const meta = await sharp(t.file!).metadata();
      expect([meta.width, meta.height]).toEqual([t.box.width, t.box.height]);
    }
  });

  it('--overlay writes a PNG of the grid and the human output lists the tiles', async () => {
    const file = join(tmp, 'grid.png');
    const res = await semclip(['tiles', PHOTO, '--grid', '3x3', '--overlay', file]);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/4032x3024 jpeg, grid 3x3, 9 tiles/);
    expect(res.stdout).toMatch(/^\s+8\s+2\s+2\s+2688\s+2016\s+1344\s+1008$/m);
    expect(res.stdout).toContain(`Overlay: ${file}`);
    const bytes = await readFile(file);
    expect([...bytes.subarray(0, 4)]).toEqual(PNG_MAGIC);
    const meta = await sharp(bytes).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(1600);
  });
});

interface SelectJson {
  kind: string;
  regions: Array<{ tiles: number[]; box: { x: number; y: number; width: number; height: number }; score: number }>;
  scores: number[];
  ranking: Array<{ index: number; score: number; rank: number }>;
  strategy: { mode: string };
  tokens: { perImage: number; images: number; used: number; budget: number | null; baseline: number; allTiles: number };
  reason: string;
  includeOverview: boolean;
  image: { width: number; height: number };
  grid: { rows: number; cols: number; tiles: unknown[] };
  question: string;
  scorer: { id: string; meta: Record<string, unknown> };
  timings: Record<string, number>;
  overlay: string | null;
}

const withoutTimings = (j: SelectJson) => ({ ...j, timings: undefined, scorer: { ...j.scorer, meta: { ...j.scorer.meta, timings: undefined } } });

describe('semclip select', () => {
  const args = ['select', PHOTO, 'What is the wait time?', '--scorer', 'random', '--seed', '1', '--json'];

  it('--scorer random --seed 1 --json prints a Selection with image, grid and timings, the same every run', async () => {
    const [a, b] = await Promise.all([semclip(args), semclip(args)]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toBe('');
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const ja = JSON.parse(a.stdout) as SelectJson;
    const jb = JSON.parse(b.stdout) as SelectJson;
    expect(withoutTimings(ja)).toEqual(withoutTimings(jb));

    expect(ja.kind).toBe('regions');
    expect(ja.scores).toHaveLength(4);
    for (const s of ja.scores) expect(s >= 0 && s < 1).toBe(true);
    expect(ja.ranking.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
    expect(ja.ranking.map((r) => r.score)).toEqual([...ja.scores].sort((x, y) => y - x));
    const best = ja.ranking[0]!;
    expect(ja.regions).toEqual([{ tiles: [best.index], box: expect.any(Object), score: best.score }]);
    expect(ja.strategy).toEqual({ mode: 'top-k', k: 1 });
    expect(ja.tokens).toEqual({ perImage: 576, overview: 576, images: 2, used: 1152, budget: null, baseline: 576, allTiles: 2880 });
    expect(ja.reason).toMatch(/^Kept the best of 4 tiles/);
    expect(ja.includeOverview).toBe(true);
    expect(ja.image).toMatchObject({ width: 4032, height: 3024 });
    expect(ja.grid).toMatchObject({ rows: 2, cols: 2 });
    expect(ja.question).toBe('What is the wait time?');
    expect(ja.scorer).toMatchObject({ id: 'random', meta: { seed: 1 } });
    for (const k of ['tile', 'score', 'select', 'total']) expect(ja.timings[k]).toBeGreaterThanOrEqual(0);
  });

  it('a different seed gives different scores', async () => {
    const [a, b] = await Promise.all([semclip(args), semclip(args.map((x) => (x === '1' ? '2' : x)))]);
    expect([a.code, b.code], a.stdout + b.stdout).toEqual([0, 0]);
    expect((JSON.parse(a.stdout) as SelectJson).scores).not.toEqual((JSON.parse(b.stdout) as SelectJson).scores);
  });

  it('passes --k, --budget, --merge and --no-overview to the selector', async () => {
    const res = await semclip([...args, '--k', '4', '--budget', '2304', '--merge', '--no-overview']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const json = JSON.parse(res.stdout) as SelectJson;
    // The budget pays for 4 images and there is no overview: all 4 tiles, merged into one full-image region.
    expect(json.includeOverview).toBe(false);
    expect(json.regions).toEqual([{ tiles: [0, 1, 2, 3], box: { x: 0, y: 0, width: 4032, height: 3024 }, score: Math.max(...json.scores) }]);
    expect(json.tokens).toMatchObject({ images: 1, used: 576, budget: 2304 });
  });

  it('--adaptive with a threshold above every score is overview-only', async () => {
    const res = await semclip([...args, '--adaptive', '--threshold', '2']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const json = JSON.parse(res.stdout) as SelectJson;
    expect(json.kind).toBe('overview-only');
    expect(json.regions).toEqual([]);
    expect(json.strategy).toMatchObject({ mode: 'adaptive', threshold: 2 });
  });

  it('prints the ranked tiles, the selection and the reason, and writes the heat-map overlay', async () => {
    const file = join(tmp, 'heat.png');
    const res = await semclip(['select', PHOTO, 'What is the wait time?', '--scorer', 'random', '--seed', '1', '--grid', '3x3', '--overlay', file]);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^rank\s+tile\s+row\s+col\s+score\s+box \(x,y wxh\)\s+selected$/m);
    expect(res.stdout.match(/^\s+\d+\s+\d+\s+\d\s+\d\s+0\.\d+/gm)).toHaveLength(9);
    expect(res.stdout).toMatch(/^\s+1\s+\d+\s+\d\s+\d\s+\S+\s+\S+ \S+\s+region 1$/m);
    expect(res.stdout).toMatch(/^Tokens\s+1152 = 2 images x 576; overview only 576, all tiles 5760$/m);
    expect(res.stdout).toMatch(/^Reason\s+Kept the best of 9 tiles/m);
    expect(res.stdout).toContain(`Overlay   ${file}`);
    expect([...(await readFile(file)).subarray(0, 4)]).toEqual(PNG_MAGIC);
  });

  it('--progress draws on stderr and leaves --json stdout clean', async () => {
    const res = await semclip([...args, '--progress']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stderr).toMatch(/semclip \[#+-*\] \d\/3/);
    expect(() => JSON.parse(res.stdout)).not.toThrow();
  });
});

describe('errors and exit codes', () => {
  it('an unknown scorer exits 2 with one line listing the valid scorers', async () => {
    const res = await semclip(['select', PHOTO, 'q?', '--scorer', 'nope']);
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^semclip: error \[UNKNOWN_SCORER\]: There is no scorer called "nope"\. Expected one of .*random/);
  });

  it.each([
    ['a bad grid', ['tiles', PHOTO, '--grid', '0x0'], 'INVALID_GRID', 2],
    ['a grid that is not a grid', ['select', PHOTO, 'q?', '--grid', 'big'], 'INVALID_GRID', 2],
    ['a missing file', ['tiles', 'no/such/photo.jpg'], 'IMAGE_NOT_FOUND', 2],
    ['an empty question', ['select', PHOTO, '   '], 'INVALID_QUESTION', 2],
    ['k < 0', ['select', PHOTO, 'q?', '--scorer', 'random', '--k', '-1'], 'INVALID_ARGUMENT', 2],
    ['a non-integer k', ['select', PHOTO, 'q?', '--scorer', 'random', '--k', '1.5'], 'INVALID_ARGUMENT', 2],
    ['a budget below the overview', ['select', PHOTO, 'q?', '--scorer', 'random', '--budget', '500'], 'BUDGET_EXCEEDED', 2],
    ['--k with --adaptive', ['select', PHOTO, 'q?', '--k', '2', '--adaptive'], 'INVALID_ARGUMENT', 2],
    ['an unknown device', ['select', PHOTO, 'q?', '--device', 'gpu'], 'INVALID_ARGUMENT', 2],
    ['an unknown option', ['tiles', PHOTO, '--gird', '3x3'], 'INVALID_ARGUMENT', 2],
    ['--size without --out', ['tiles', PHOTO, '--size', '336'], 'INVALID_ARGUMENT', 2],
    ['a missing positional', ['select', PHOTO], 'INVALID_ARGUMENT', 2],
    ['an unknown command', ['tile', PHOTO], 'INVALID_ARGUMENT', 2],
    ['no command', [], 'INVALID_ARGUMENT', 2],
  ] as const)('%s: one line with the code and the exit code', async (_name, argv, code, exit) => {
    const res = await semclip(argv);
    expect(res.code, res.stderr + res.stdout).toBe(exit);
    const lines = res.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(new RegExp(`^semclip: error \\[${code}\\]: \\S.*[.]$`));
    if (argv.length > 0) expect(lines).toHaveLength(1);
    expect(res.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
  });

  it('a truncated image exits 2 with IMAGE_TRUNCATED, for tiles and for select with a scorer that reads no pixels', async () => {
    const bytes = await readFile(PHOTO);
    const file = join(tmp, 'truncated.jpg');
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 3)));
    for (const argv of [
      ['tiles', file, '--json'],
      ['select', file, 'q?', '--scorer', 'random', '--json'],
    ]) {
      const res = await semclip(argv);
      expect(res.code, res.stderr + res.stdout).toBe(2);
      expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'IMAGE_TRUNCATED', message: expect.stringContaining('truncated') } });
    }
  });

  it('tiles on an SVG that references a sibling file exits 2 with IMAGE_UNSUPPORTED and draws nothing of that file', async () => {
    const dir = join(tmp, 'svg-href');
    const out = join(dir, 'tiles');
    await mkdir(dir, { recursive: true });
    await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .png()
      .toFile(join(dir, 'secret.png'));
    const file = join(dir, 'svg-with-external-href.svg');
    await writeFile(file, '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><image href="secret.png" width="100" height="100"/></svg>');
    const res = await semclip(['tiles', file, '--grid', '1x1', '--out', out, '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'IMAGE_UNSUPPORTED', message: expect.stringContaining('href="secret.png"') } });
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('--json prints the error as JSON on stdout and nothing on stderr', async () => {
    const res = await semclip(['tiles', PHOTO, '--grid', '0x0', '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(res.stderr).toBe('');
    const json = JSON.parse(res.stdout) as { error: { code: string; message: string; hint: string } };
    expect(json.error).toMatchObject({ code: 'INVALID_GRID', message: expect.stringContaining('0x0'), hint: expect.any(String) });
  });

  it('--verbose adds the stack and the cause; without it there is none', async () => {
    const plain = await semclip(['tiles', 'no/such/photo.jpg']);
    const verbose = await semclip(['tiles', 'no/such/photo.jpg', '--verbose']);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    expect(verbose.code, verbose.stderr).toBe(2);
    expect(verbose.stderr).toMatch(/^SemclipError: Image file .* does not exist/m);
    expect(verbose.stderr).toMatch(/\n\s+at .*tileImage/);
    expect(verbose.stderr).toMatch(/Caused by: Error: ENOENT/);
    expect(verbose.stderr.trim().split('\n').at(-1)).toMatch(/^semclip: error \[IMAGE_NOT_FOUND\]/);
  });
});

/** Runs semclip and returns the one error line's message, after checking it is a usage error (exit 2). */
async function usageError(argv: readonly string[], code = 'INVALID_ARGUMENT'): Promise<string> {
  const res = await semclip(argv, { cwd: tmp });
  expect(res.code, res.stderr + res.stdout).toBe(2);
  expect(res.stdout).toBe('');
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  const prefix = `semclip: error [${code}]: `;
  expect(lines[0]!.startsWith(prefix), lines[0]).toBe(true);
  return lines[0]!.slice(prefix.length);
}

describe('the command line is checked before a command runs', () => {
  // Each row would fail fast in the command itself (missing file, unknown model, missing required
  // flag...) if the check let --bogus through, so a broken check fails the row instead of hanging.
  it.each([
    [['tiles'], [PHOTO]],
    [['select'], [PHOTO, 'q?']],
    [['ask'], ['no/such.jpg', 'q?']],
    [['demo'], ['--grid', '0x0']],
    [['models', 'list'], []],
    [['models', 'pull'], ['no-such-model']],
    [['models', 'verify'], ['no-such-model']],
    [['models', 'path'], ['no-such-model']],
    [['models', 'rm'], ['no-such-model']],
    [['eval', 'run'], []],
    [['eval', 'report'], ['no-such.jsonl']],
    [['eval', 'score'], []],
    [['label'], []],
    [['train'], []],
    [['serve'], ['--port', 'notaport']],
  ] as const)('an unknown flag on "semclip %s" is rejected naming the flag and the command', async (path, args) => {
    const message = await usageError([...path, ...args, '--bogus']);
    expect(message).toContain(`Unknown option --bogus for "semclip ${path.join(' ')}".`);
    expect(message).toContain(`Run "semclip ${path.join(' ')} --help" for usage.`);
  });

  it.each([
    ['a swapped letter', ['tiles', PHOTO, '--gird', '3x3'], '--gird', '--grid'],
    ['--flag=value', ['tiles', PHOTO, '--grd=3x3'], '--grd', '--grid'],
    ['an underscore for a dash', ['select', PHOTO, 'q?', '--max_tiles=3'], '--max_tiles', '--max-tiles'],
    ['a mistyped --no- form', ['select', PHOTO, 'q?', '--no-overveiw'], '--no-overveiw', '--no-overview'],
    ['a nested command (eval run)', ['eval', 'run', '--benchmrk', 'vstar'], '--benchmrk', '--benchmark'],
    ['a nested command (models pull)', ['models', 'pull', 'x', '--forse'], '--forse', '--force'],
    ['a command with many positionals (eval report)', ['eval', 'report', 'a.jsonl', '--fromat', 'json'], '--fromat', '--format'],
  ] as const)('an unknown flag close to a real one (%s) suggests it', async (_name, argv, flag, suggestion) => {
    const message = await usageError(argv);
    expect(message).toMatch(
      new RegExp(`^Unknown option ${flag} for "semclip [a-z ]+"\\. Did you mean ${suggestion}\\? Run "semclip [a-z ]+ --help" for usage\\.$`),
    );
  });

  it('an unknown flag far from every real one gets no suggestion', async () => {
    expect(await usageError(['tiles', PHOTO, '--frobnicate'])).not.toContain('Did you mean');
  });

  it('a --json --verbose error for an unknown flag is JSON with the flag and the suggestion', async () => {
    const res = await semclip(['tiles', PHOTO, '--gird', '3x3', '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(2);
    expect(JSON.parse(res.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', details: { option: '--gird', suggestion: '--grid' } } });
  });

  it.each([
    ['--no- on a flag that takes a value', ['select', PHOTO, 'q?', '--no-grid'], /^Unknown option --no-grid for "semclip select"\./],
    ['a value on a --no- flag', ['select', PHOTO, 'q?', '--no-overview=1'], /^Option --no-overview takes no value\./],
    ['a value flag at the end without its value', ['tiles', PHOTO, '--grid'], /^Option --grid needs a value\./],
    ['a single-dash flag that is no alias', ['tiles', PHOTO, '-g', '3x3'], /^Unknown option -g for "semclip tiles"\./],
    ['a flag before the command name', ['--progress', 'tiles', PHOTO], /^Unknown option --progress for "semclip"\. Options go after the command name\./],
  ] as const)('%s is rejected', async (_name, argv, pattern) => {
    expect(await usageError(argv)).toMatch(pattern);
  });

  it.each([
    [['--grid=3x3', '--overlap=0'], 3],
    [['--grid', '3x3', '--json=true'], 3],
    [['--levels', '1', '--grid', '1x2', '--progress', '--no-progress'], 1],
  ] as const)('valid flag forms %j still run', async (flags, rows) => {
    const res = await semclip(['tiles', PHOTO, ...flags, '--json']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect((JSON.parse(res.stdout) as TilesJson).grid.rows).toBe(rows);
  });

  it.each([
    ['select', ['select', PHOTO, 'What', 'is', 'the', 'wait', 'time?'], 'IMAGE QUESTION', 'is the wait time?', 'question'],
    ['ask', ['ask', PHOTO, 'What', 'is', 'the', 'wait', 'time?'], 'IMAGE QUESTION', 'is the wait time?', 'question'],
    ['select, after --', ['select', PHOTO, '--', 'What', 'time?'], 'IMAGE QUESTION', 'time?', 'question'],
    ['tiles', ['tiles', 'My', 'Photo.jpg'], 'IMAGE', 'Photo.jpg', 'image'],
    ['models pull', ['models', 'pull', 'clip', 'siglip'], 'ID', 'siglip', 'id'],
  ] as const)('extra positional arguments to %s are rejected, not dropped', async (_name, argv, takes, extra, quote) => {
    const message = await usageError(argv);
    expect(message).toContain(`it takes ${takes}, and ${JSON.stringify(extra)} is left over; did you forget quotes around the ${quote}?`);
  });

  it('a command without positionals rejects one', async () => {
    expect(await usageError(['demo', 'now'])).toMatch(/^"semclip demo" takes no arguments, but got "now"\./);
  });

  it('eval report takes any number of files (FILE...)', async () => {
    // Past the command-line check: the command itself reports the first file it cannot read.
    const message = await usageError(['eval', 'report', 'no-1.jsonl', 'no-2.jsonl', 'no-3.jsonl'], 'RESULTS_INVALID');
    expect(message).toContain('no-1.jsonl');
  });

  it.each([
    [['tile', PHOTO], 'There is no command "tile". Did you mean "tiles"?'],
    [['eval', 'rn'], 'There is no command "eval rn". Did you mean "eval run"?'],
    [['frobnicate'], 'There is no command "frobnicate". Expected one of: tiles,'],
  ] as const)('an unknown command %j is rejected with the closest one', async (argv, start) => {
    expect((await usageError(argv)).startsWith(start)).toBe(true);
  });
});

describe('closestMatch (did-you-mean)', () => {
  it.each([
    ['--gird', ['--grid', '--k'], '--grid'],
    ['--grdi', ['--grid', '--k'], '--grid'],
    ['--scorr', ['--scorer', '--seed'], '--scorer'],
    ['--max_tiles', ['--max-tiles', '--k'], '--max-tiles'],
    ['--x', ['--k', '--json'], undefined],
    ['--frobnicate', ['--grid', '--overlap'], undefined],
    ['tile', ['tiles', 'select'], 'tiles'],
    ['TILES', ['tiles'], 'tiles'],
    ['rn', ['run', 'report', 'score'], 'run'],
  ] as const)('closestMatch(%j) among %j is %j', (word, candidates, expected) => {
    expect(closestMatch(word, candidates)).toBe(expected);
  });
});

describe('help and version', () => {
  it.each([
    [[], 'semclip', ['tiles', 'select', 'demo']],
    [['tiles'], 'semclip tiles', ['--grid', '--overlap', '--levels', '--size', '--out', '--overlay', '--json']],
    [
      ['select'],
      'semclip select',
      [
        '<IMAGE> <QUESTION>',
        '--scorer',
        '--model',
        '--seed',
        '--k',
        '--adaptive',
        '--margin',
        '--threshold',
        '--budget',
        '--merge',
        '--device',
        '--overlay',
        '--no-overview',
      ],
    ],
    [['demo'], 'semclip demo', ['--out', '--scorer', '--json']],
    [['eval', 'run'], 'semclip eval run', ['--benchmark', '--method']],
    [['eval', 'score'], 'semclip eval score', ['--benchmark', '--predictions']],
    [['models', 'pull'], 'semclip models pull', ['<ID>', '--force']],
  ] as const)('%j --help prints usage and exits 0', async (cmd, name, mentions) => {
    const res = await semclip([...cmd, '--help']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).not.toMatch(ANSI);
    expect(res.stdout).toContain(`USAGE ${name}`);
    for (const m of mentions) expect(res.stdout).toContain(m);
  });

  it.each([['eval', 'score'], ['ask'], ['serve']])(
    '%s --help lines every description up in one column, left of a long flag on its own line',
    async (...cmd) => {
      const res = await semclip([...cmd, '--help'], { env: { COLUMNS: '100' } });
      expect(res.stdout).not.toMatch(/\(eval score\)/);
      const options = res.stdout.split('\nOPTIONS\n')[1] ?? '';
      const rows = options.split('\n').filter((l) => l.trim() !== '');
      expect(rows.length).toBeGreaterThan(3);
      const columns = new Set<number>();
      for (const row of rows) {
        // a flag at column 2 (its description in the table's one column, or on the next line at 8), or a description line
        expect(row, row).toMatch(/^( {2}-\S.*| {8,}\S.*)$/);
        if (row.startsWith('  -') && / {2,}\S/.test(row.slice(2))) columns.add(row.search(/(?<=\S {2,})\S/));
      }
      expect(columns.size).toBe(1);
    },
  );

  it('run as the clone\'s "pnpm semclip" script, hints say "pnpm semclip ..."; the demo ends with a command that works there', async () => {
    const env = { npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'semclip', INIT_CWD: REPO_ROOT };
    const res = await semclip(['select'], { env });
    expect(res.stderr).toContain('Run "pnpm semclip select --help" for usage');
    const help = await semclip(['eval', 'score', '--help'], { env });
    expect(help.stdout).toContain('USAGE pnpm semclip eval score');
    const plain = await semclip(['select']);
    expect(plain.stderr).toContain('Run "semclip select --help" for usage');
  });

  it('stops quietly with exit 0 when the reader of its output goes away (| head): no EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'tiles', PHOTO, '--grid', '8x8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // Read the first chunk, then close the pipe as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|at /);
    expect(code).toBe(0);
  });

  it('-h is --help', async () => {
    const res = await semclip(['tiles', '-h']);
    expect([res.code, res.stdout.includes('USAGE semclip tiles')]).toEqual([0, true]);
  });

  it('--help after other arguments, even a mistyped flag, still shows the command usage', async () => {
    const res = await semclip(['select', PHOTO, '--grid', '3x3', '--gird', '--help']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toContain('USAGE semclip select');
  });

  it.each([
    [['--help'], 80],
    [['--help'], 50],
    [['select', '--help'], 80],
    [['label', '--help'], 80],
  ] as const)('%j fits COLUMNS=%i: no line is longer (but for one long word, like a URL) or ends with spaces', async (args, columns) => {
    const res = await semclip(args, { env: { COLUMNS: String(columns) } });
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.split('\n');
    expect(lines.filter((l) => / $/.test(l))).toEqual([]);
    expect(lines.filter((l) => l.length > columns && l.trim().includes(' '))).toEqual([]);
    if (columns >= 80) expect(lines.filter((l) => l.length > columns)).toEqual([]);
    expect(res.stdout).toContain('tile');
  });

  it('without COLUMNS or a terminal, help fits 80 columns; "semclip" alone prints it the same way on stderr', async () => {
    for (const res of [await semclip(['--help'], { unset: ['COLUMNS'] }), await semclip([], { unset: ['COLUMNS'] })]) {
      const lines = (res.stdout + res.stderr).split('\n').filter((l) => !l.startsWith('semclip: error'));
      expect(lines.filter((l) => / $/.test(l) || l.length > 80)).toEqual([]);
      expect(res.stdout + res.stderr).toContain('Split an image into a grid of tiles');
    }
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const res = await semclip(['--version']);
    expect([res.code, res.stdout.trim()]).toEqual([0, pkg.version]);
  });
});

describe('relative paths under `pnpm semclip` (pnpm runs root scripts from the repository root)', () => {
  const pnpmScript = (dir: string, script = 'semclip') => ({ INIT_CWD: dir, npm_package_name: 'semclip-monorepo', npm_lifecycle_event: script });

  it('resolve from the folder the user ran pnpm in (INIT_CWD): the image, --out and --overlay', async () => {
    const dir = await tempDir();
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } })
      .jpeg()
      .toFile(join(dir, 'photo.jpg'));
    const res = await semclip(['tiles', 'photo.jpg', '--out', 'tiles', '--overlay', 'grid.png', '--json'], { cwd: REPO_ROOT, env: pnpmScript(dir) });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect((JSON.parse(res.stdout) as TilesJson).image).toMatchObject({ width: 64, height: 48 });
    expect((await readdir(join(dir, 'tiles'))).length).toBeGreaterThan(0);
    expect((await readdir(dir)).sort()).toEqual(['grid.png', 'photo.jpg', 'tiles']);
  });

  it('a missing image names the folder it was looked for in', async () => {
    const dir = await tempDir();
    const res = await semclip(['tiles', 'nope.jpg'], { cwd: REPO_ROOT, env: pnpmScript(dir) });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('IMAGE_NOT_FOUND');
    expect(res.stderr).toContain(`a relative path is resolved from ${dir}`);
  });

  it('INIT_CWD from any other script (e.g. `pnpm test`, or a package script whose paths npm means from its root) is ignored', async () => {
    const dir = await tempDir();
    const res = await semclip(['tiles', 'nope.jpg'], { cwd: tmp, env: pnpmScript(dir, 'test') });
    expect(res.stderr).toContain(`a relative path is resolved from ${tmp}`);
  });
});
