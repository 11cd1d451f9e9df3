import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, fitToWidth, fmtMs, fmtNumber, formatTable, layoutHelp, terminalWidth } from './_output.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }),
    { isTTY, columns: 80 },
  );
  return { stream, text: () => chunks.join('') };
}

describe('formatTable', () => {
  it('right-aligns number columns, left-aligns text, pads to the widest cell', () => {
    const rows = [
      { n: 1, name: 'a', score: '0.5' },
      { n: 10, name: 'long name', score: '0.25' },
    ];
    const text = formatTable(
      [
        { header: 'n', value: (r: (typeof rows)[number]) => r.n },
        { header: 'name', value: (r) => r.name },
        { header: 'score', value: (r) => r.score, align: 'right' },
      ],
      rows,
    );
    expect(text.split('\n')).toEqual([' n  name       score', ' 1  a            0.5', '10  long name   0.25']);
  });

  it('prints only the header for no rows', () => {
    expect(formatTable([{ header: 'tile', value: () => 1 }], [])).toBe('tile');
  });
});

describe('createProgress', () => {
  it('prints nothing when disabled', () => {
    const s = sink(true);
    const bar = createProgress('x', 3, { enabled: false, stream: s.stream });
    bar.update(1, 'a');
    bar.done();
    expect(s.text()).toBe('');
  });

  it('prints one line per update when forced onto a non-TTY', () => {
    const s = sink(false);
    const bar = createProgress('scoring', 2, { enabled: true, stream: s.stream });
    bar.update(1, 'tile 1');
    bar.tick();
    bar.done();
    const lines = s.text().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^scoring \[#{12}-{12}\] 1\/2 tile 1 \d+ ms$/);
    expect(lines[1]).toMatch(/^scoring \[#{24}\] 2\/2 tile 1/);
  });

  it('redraws in place on a TTY and clears the line when done', () => {
    const s = sink(true);
    const bar = createProgress('p', 1, { enabled: true, stream: s.stream });
    bar.update(1);
    bar.done();
    bar.done();
    expect(s.text()).toMatch(/^\r\u001b\[2Kp \[#+\] 1\/1 .*\r\u001b\[2K$/);
  });
});

describe('formats', () => {
  it.each([
    [0, '0'],
    [0.123456, '0.123'],
    [12.3456, '12.3'],
    [-0.5, '-0.5'],
    [0.00001234, '1.23e-5'],
  ])('fmtNumber(%s) = %s', (n, s) => expect(fmtNumber(n)).toBe(s));

  it.each([
    [12.4, '12 ms'],
    [1500, '1.5 s'],
  ])('fmtMs(%s) = %s', (n, s) => expect(fmtMs(n)).toBe(s));
});

describe('fitToWidth', () => {
  it('trims the padding and wraps long lines under their second column', () => {
    const text = `USAGE semclip     \n\n   tiles  Split an image into a grid of tiles and write them.${' '.repeat(200)}\n    ask  Ask.${' '.repeat(250)}`;
    expect(fitToWidth(text, 30)).toBe(
      ['USAGE semclip', '', '   tiles  Split an image into', '          a grid of tiles and', '          write them.', '    ask  Ask.'].join('\n'),
    );
  });

  it('puts the description on the next line when the first column is wider than half the width', () => {
    const text = '  --vlm=<openai:URL#MODEL|local:ID>  The VLM to ask about the image';
    const out = fitToWidth(text, 40).split('\n');
    expect(out[0]).toBe('  --vlm=<openai:URL#MODEL|local:ID>');
    expect(out.slice(1).every((l) => l.startsWith('        ') && l.length <= 40)).toBe(true);
    expect(out.slice(1).join(' ').replace(/ +/g, ' ').trim()).toBe('The VLM to ask about the image');
  });

  it('counts ANSI colour codes as zero width and keeps them', () => {
    const cyan = (s: string) => `\u001b[36m${s}\u001b[39m`;
    const out = fitToWidth(`  ${cyan('tiles')}  one two three four five six`, 24);
    expect(out).toBe(`  ${cyan('tiles')}  one two three\n         four five six`);
  });

  it('terminalWidth prefers the stream, then $COLUMNS, then 80', () => {
    const saved = process.env.COLUMNS;
    try {
      process.env.COLUMNS = '100';
      expect(terminalWidth({ columns: 120 })).toBe(120);
      expect(terminalWidth({})).toBe(100);
      delete process.env.COLUMNS;
      expect(terminalWidth({})).toBe(80);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
  });
});

describe('layoutHelp', () => {
  it("left-aligns citty's right-aligned flag column: short flags' text 2 after the longest, a flag over 24 above its text", () => {
    const citty = [
      'OPTIONS',
      '',
      '                 --k=<N>    Tiles to keep',
      '  --benchmark=<pope|gqa|scienceqa>    Which benchmark',
      '           --json',
      '          --grid=<RxC>    Grid',
      '',
      'Footer  kept',
    ].join('\n');
    expect(layoutHelp(citty).split('\n')).toEqual([
      'OPTIONS',
      '',
      '  --k=<N>       Tiles to keep',
      '  --benchmark=<pope|gqa|scienceqa>',
      '        Which benchmark',
      '  --json',
      '  --grid=<RxC>  Grid',
      '',
      'Footer  kept',
    ]);
  });
});
