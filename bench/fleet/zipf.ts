import { mulberry32, shuffled } from '../router/random.js';

/** Seed of the rank order and of the draws: every service gets the very same sequence. */
export const ZIPF_SEED = 20240611;

export interface ZipfSequence<T> {
  /** Population in rank order: index 0 is the most requested. */
  ranked: T[];
  /** The drawn sequence, sent one after another across all connections (and cycled if a run outlasts it). */
  sequence: T[];
}

/**
 * `length` draws from `population` with P(rank k) proportional to 1 / k^exponent (k = 1, 2, ...), the ranks
 * given to the population in an order shuffled by `seed` (so rank does not follow creation order or tier).
 */
export function zipfSequence<T>(
  population: T[],
  exponent: number,
  length: number,
  seed = ZIPF_SEED,
): ZipfSequence<T> {
  const ranked = shuffled(population, seed);
  const cumulative = new Float64Array(ranked.length);
  let total = 0;
  for (let k = 0; k < ranked.length; k++) {
    total += 1 / (k + 1) ** exponent;
    cumulative[k] = total;
  }
  const random = mulberry32(seed + 1);
  const sequence = new Array<T>(length);
  for (let i = 0; i < length; i++) {
    const target = random() * total;
    let low = 0;
    let high = ranked.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    sequence[i] = ranked[low]!;
  }
  return { ranked, sequence };
}
