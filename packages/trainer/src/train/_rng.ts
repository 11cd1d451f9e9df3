// The seeded generator itself is @semclip/core's `mulberry32`.

/** Fisher-Yates in place with the given generator. */
export function shuffleInPlace<T>(items: T[] | Uint32Array, next: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}
