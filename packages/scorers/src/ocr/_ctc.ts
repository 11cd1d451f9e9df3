export interface DecodedLine {
  readonly text: string;
  /** Mean probability of the kept characters; 0 when nothing was read. */
  readonly confidence: number;
}

/**
 * Greedy CTC decoding of one line, as PaddleOCR's `CTCLabelDecode`: argmax per time step,
 * merge repeats, drop the blank (index 0), confidence = mean max-probability of the kept
 * steps. `probs` holds steps x classes softmax outputs starting at `offset`.
 */
export function ctcGreedyDecode(probs: ArrayLike<number>, offset: number, steps: number, classes: number, dictionary: readonly string[]): DecodedLine {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0;
    let bestP = probs[base]!;
    for (let c = 1; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += dictionary[best] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
