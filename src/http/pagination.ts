import { InvalidInputError } from '../errors/index.js';

/** Position after the last row of a page: its exact created_at (as PostgreSQL text) and id. */
export interface Cursor {
  createdAt: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** PostgreSQL's text form of a timestamptz (ISO DateStyle), as cursors carry it. */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:[+-](\d{2})(?::(\d{2}))?|Z)$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether `text` is a timestamp PostgreSQL reads as it was written: the shape, and a date and time that
 * exist (proleptic Gregorian, as PostgreSQL counts; no year 0, no February 30, no 25:00) with an offset
 * within ±15:59. PostgreSQL refuses the impossible ones with an error, so they must not reach a query.
 */
function isPossibleTimestamp(text: string): boolean {
  const match = TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = Number(match[7] ?? 0);
  const offsetMinutes = Number(match[8] ?? 0);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return (
    year >= 1 &&
    days !== undefined &&
    day >= 1 &&
    day <= days &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * Cursors are opaque to clients. They hold a keyset position rather than an offset, so rows inserted while
 * a client pages (always newer, so always before the cursor) never shift or repeat a page.
 */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(raw: unknown): Cursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    if (typeof raw !== 'string' || raw.length > 200) throw new Error('bad');
    const [createdAt, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt !== 'string' || !isPossibleTimestamp(createdAt) || !isUuid(id)) {
      throw new Error('bad');
    }
    return { createdAt, id };
  } catch {
    throw new InvalidInputError('cursor is not one this API returned', 'invalid_cursor');
  }
}

export function parseLimit(raw: unknown, fallback = 20, max = 100): number {
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= max))
    throw new InvalidInputError(`limit must be an integer from 1 to ${max}`, 'invalid_limit');
  return value;
}

/** An opaque cursor over a positive integer key (such as a bigserial id), for lists ordered by it. */
export function encodeSequenceCursor(position: number): string {
  return Buffer.from(`s${position}`).toString('base64url');
}

export function decodeSequenceCursor(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = typeof raw === 'string' && raw.length <= 40 ? Buffer.from(raw, 'base64url').toString() : '';
  const match = /^s([1-9]\d{0,15})$/.exec(text);
  // Past 2^53 a number no longer holds the position exactly, so the page would start somewhere else.
  const position = match ? Number(match[1]) : Number.NaN;
  if (!Number.isSafeInteger(position)) {
    throw new InvalidInputError('cursor is not one this API returned', 'invalid_cursor');
  }
  return position;
}
