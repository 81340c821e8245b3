import { InvalidInputError } from '../../errors/index.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** The longest cadence a schedule takes: a year, well inside a PostgreSQL integer of seconds. */
const MAX_SECONDS = 366 * 86400;

/**
 * A cadence as written on the command line and in the API: a whole number and a unit, `30s`, `15m`, `6h`,
 * `1d`. Answers seconds; anything else is 400 `invalid_duration`.
 */
export function parseDuration(value: unknown, what = 'duration'): number {
  const match = typeof value === 'string' ? /^([1-9]\d{0,6})([smhd])$/.exec(value) : null;
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS] : NaN;
  if (!match || seconds > MAX_SECONDS) {
    throw new InvalidInputError(
      `${what} must be a whole number and a unit s, m, h or d (like 30s, 6h, 1d), at most 366d`,
      'invalid_duration',
    );
  }
  return seconds;
}

/** Seconds in the largest unit that divides them: 86400 is `1d`, 5400 is `90m`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
