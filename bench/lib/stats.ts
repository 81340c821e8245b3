/** The statistics every bench reports its figures with. */

/** The `q` quantile (0..1) of the finite values, interpolating between neighbours; NaN when there are none. */
export function quantile(values: number[], q: number): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const position = q * (finite.length - 1);
  const below = Math.floor(position);
  const above = Math.min(finite.length - 1, below + 1);
  return finite[below]! + (finite[above]! - finite[below]!) * (position - below);
}

/** The median of the finite values: the middle one, or the mean of the middle two. */
export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/**
 * The `p` percentile (0..100) of values already sorted ascending, by nearest rank: the smallest value that
 * at least p% of the values do not exceed, one of the values themselves; NaN when there are none.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The `p` percentile (0..100) of the values, by nearest rank (see percentileOfSorted). */
export function percentile(values: number[], p: number): number {
  return percentileOfSorted(
    [...values].sort((a, b) => a - b),
    p,
  );
}

/** The arithmetic mean; NaN when there are no values. */
export function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** `a[i] / b[i]` for each i of `a`: the ratio of each pair of runs that ran side by side (NaN without a partner). */
export function pairedRatios(a: number[], b: number[]): number[] {
  return a.map((value, i) => value / (b[i] ?? Number.NaN));
}
