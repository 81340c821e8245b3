import { InvalidInputError } from '../errors/index.js';

export type Granularity = 'hour' | 'day';

/** The hours a usage report covers: those starting at or after `from` and before `to`, by `granularity`. */
export interface UsageRange {
  from: Date;
  to: Date;
  granularity: Granularity;
}

const DAY_MS = 86_400_000;
/** The longest range one report covers: a year, leap or not. */
const MAX_SPAN_MS = 366 * DAY_MS;
/** A date (`2026-12-01`, midnight UTC) or a date and time with its offset (`2026-12-01T10:00:00Z`). */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/** Whether the fields name a moment that exists: Date.parse rolls 2026-02-30 over into March. */
function exists(fields: string[]): boolean {
  const [year, month, day, hour = 0, minute = 0, second = 0, offsetHours = 0, offsetMinutes = 0] = fields.map(
    (field) => (field === undefined ? undefined : Number(field)),
  ) as number[];
  const lastDay = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return (
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= lastDay &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}

function instant(raw: unknown, name: string): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const match = typeof raw === 'string' ? TIMESTAMP.exec(raw) : null;
  const time = match && exists(match.slice(1)) ? Date.parse(raw as string) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new InvalidInputError(
      `${name} must be a date (2026-12-01) or a date and time with an offset (2026-12-01T10:00:00Z)`,
      'invalid_query',
    );
  }
  return new Date(time);
}

/**
 * Reads `from`, `to` and `granularity` (hour by default) as given to the API or the CLI. Without `to`, up
 * to now; without `from`, the last day (hour) or the last 30 days (day). At most 366 days at once.
 */
export function parseUsageRange(
  query: { from?: unknown; to?: unknown; granularity?: unknown },
  now = new Date(),
): UsageRange {
  const granularity = query.granularity ?? 'hour';
  if (granularity !== 'hour' && granularity !== 'day') {
    throw new InvalidInputError('granularity must be hour or day', 'invalid_query');
  }
  const to = instant(query.to, 'to') ?? now;
  const from =
    instant(query.from, 'from') ?? new Date(to.getTime() - (granularity === 'day' ? 30 : 1) * DAY_MS);
  if (from.getTime() >= to.getTime()) throw new InvalidInputError('from must be before to', 'invalid_query');
  if (to.getTime() - from.getTime() > MAX_SPAN_MS) {
    throw new InvalidInputError('from and to may be at most 366 days apart', 'invalid_query');
  }
  return { from, to, granularity };
}
