/** Another character the recogniser considered, with its probability. */
export type OcrAlternative = readonly [char: string, probability: number];

/** One character of a line as the recogniser read it, with what else it might have been. */
export interface OcrChar {
  readonly char: string;
  /** Its probability at the time step that emitted it. */
  readonly confidence: number;
  /** Other characters given at least `ALT_MIN` over this character's time steps, most likely first. */
  readonly alternatives: readonly OcrAlternative[];
  /**
   * Characters given at least `ALT_MIN` in the blank steps just before this one: a letter the
   * recogniser nearly read there and dropped ("W_T" where the sign says "WAIT").
   */
  readonly dropped: readonly OcrAlternative[];
}

export interface DecodedLine {
  readonly text: string;
  /** Mean probability of the kept characters; 0 when nothing was read. */
  readonly confidence: number;
  /** Per character of `text`: its probability, alternatives and nearly-read neighbours. */
  readonly chars: readonly OcrChar[];
  /** Characters nearly read after the last one. */
  readonly droppedAfter: readonly OcrAlternative[];
}

/** Alternatives below this probability are not kept. */
export const ALT_MIN = 0.03;
const MAX_ALTS = 3;

/** Best probability per class over a run of steps, as a short sorted list. */
class Candidates {
  private readonly best = new Map<number, number>();
  add(cls: number, p: number): void {
    if (p < ALT_MIN) return;
    const cur = this.best.get(cls);
    if (cur === undefined || p > cur) this.best.set(cls, p);
  }
  list(dictionary: readonly string[], exclude: number): OcrAlternative[] {
    return [...this.best.entries()]
      .filter(([c]) => c !== exclude && c !== 0)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, MAX_ALTS)
      .map(([c, p]) => [dictionary[c] ?? '', Math.round(p * 1000) / 1000] as const);
  }
  clear(): void {
    this.best.clear();
  }
}

/**
 * Greedy CTC decoding of one line, as PaddleOCR's `CTCLabelDecode`: argmax per time step,
 * merge repeats, drop the blank (index 0), confidence = mean max-probability of the kept
 * steps. `probs` holds steps x classes softmax outputs starting at `offset`.
 *
 * Also keeps, per character read, the runner-up classes of its steps (`alternatives`) and the
 * non-blank classes of the blank steps before it (`dropped`), each at least 3 %: what the
 * matcher uses to forgive a misread or a dropped letter where the recogniser itself hesitated.
 */
export function ctcGreedyDecode(probs: ArrayLike<number>, offset: number, steps: number, classes: number, dictionary: readonly string[]): DecodedLine {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  const chars: OcrChar[] = [];
  const alts = new Candidates();
  const gap = new Candidates();
  let current: { cls: number; p: number; dropped: OcrAlternative[] } | undefined;
  const flush = () => {
    if (!current) return;
    chars.push({ char: dictionary[current.cls] ?? '', confidence: current.p, alternatives: alts.list(dictionary, current.cls), dropped: current.dropped });
    current = undefined;
    alts.clear();
  };
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    // Top three classes of this step, in one pass.
    let c1 = 0;
    let p1 = probs[base]!;
    let c2 = -1;
    let p2 = -1;
    let c3 = -1;
    let p3 = -1;
    for (let c = 1; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > p1) {
        c3 = c2;
        p3 = p2;
        c2 = c1;
        p2 = p1;
        c1 = c;
        p1 = p;
      } else if (p > p2) {
        c3 = c2;
        p3 = p2;
        c2 = c;
        p2 = p;
      } else if (p > p3) {
        c3 = c;
        p3 = p;
      }
    }
    if (c1 === 0) {
      // A blank step: the previous character (if any) is complete; note what nearly showed.
      flush();
      if (c2 > 0) gap.add(c2, p2);
      if (c3 > 0) gap.add(c3, p3);
    } else if (c1 !== previous) {
      flush();
      text += dictionary[c1] ?? '';
      sum += p1;
      kept++;
      current = { cls: c1, p: p1, dropped: gap.list(dictionary, -1) };
      gap.clear();
      if (c2 >= 0) alts.add(c2, p2);
      if (c3 >= 0) alts.add(c3, p3);
    } else {
      // The same character again (a repeat, merged): its runner-ups count too.
      if (c2 >= 0) alts.add(c2, p2);
      if (c3 >= 0) alts.add(c3, p3);
    }
    previous = c1;
  }
  flush();
  return { text, confidence: kept === 0 ? 0 : sum / kept, chars, droppedAfter: gap.list(dictionary, -1) };
}
