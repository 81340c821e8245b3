import { InvalidInputError } from '../errors.js';

/** Position after the last row of a page: its exact created_at (as PostgreSQL text) and id. */
export interface Cursor {
  createdAt: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$/;

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
    if (typeof createdAt !== 'string' || !TIMESTAMP.test(createdAt) || !isUuid(id)) throw new Error('bad');
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
  if (!match) throw new InvalidInputError('cursor is not one this API returned', 'invalid_cursor');
  return Number(match[1]);
}
