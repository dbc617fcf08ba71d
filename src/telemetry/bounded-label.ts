/**
 * A label whose values come from traffic (an identity, a route) kept to at
 * most `max` distinct values: the first `max` seen keep their own series,
 * later ones share "other". Prometheus stores one series per label
 * combination, so an unbounded label is a memory leak on both sides.
 */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  value(raw: string): string {
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(raw);
    return raw;
  }
}

/** Maps a value onto a fixed list, or "other". */
export function oneOf(value: string, allowed: readonly string[]): string {
  const match = allowed.find((a) => value === a || value.startsWith(`${a}:`));
  return match ?? 'other';
}
