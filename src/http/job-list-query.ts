import type { Request } from 'express';
import { InvalidInputError } from '../errors/index.js';
import type { JobListOptions, JobPosition } from '../jobs/job-listing.js';
import type { JobState } from '../jobs/job-queue.js';
import { parseLimit } from './pagination.js';

const LISTED_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'failed', 'delayed'];
/** Job ids and queue names as the queues make them (BullMQ's scheduled jobs have ':' in theirs). */
const NAME = /^[A-Za-z0-9._:-]{1,300}$/;

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidInputError(`${name} must be given once`, 'invalid_query');
  return value;
}

/** Opaque to clients: the last listed job's position, which the next page starts after. */
export function encodeJobCursor(position: JobPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.queue, position.id])).toString('base64url');
}

function decodeJobCursor(raw: string | undefined): JobPosition | undefined {
  if (raw === undefined) return undefined;
  const parsed = (() => {
    try {
      return raw.length <= 1000
        ? (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown)
        : null;
    } catch {
      return null;
    }
  })();
  if (Array.isArray(parsed) && parsed.length === 3) {
    const [createdAt, queue, id] = parsed as unknown[];
    if (
      Number.isSafeInteger(createdAt) &&
      (createdAt as number) >= 0 &&
      typeof queue === 'string' &&
      NAME.test(queue) &&
      typeof id === 'string' &&
      NAME.test(id)
    ) {
      return { createdAt: createdAt as number, queue, id };
    }
  }
  throw new InvalidInputError('cursor is not one this API returned', 'invalid_cursor');
}

/** `queue`, `state`, `limit` and `cursor` of GET /admin/v1/jobs, checked against the queues this process knows. */
export function jobListOptionsOf(req: Request, queueNames: readonly string[]): JobListOptions {
  const queue = single(req, 'queue');
  const state = single(req, 'state');
  if (queue !== undefined && !queueNames.includes(queue)) {
    throw new InvalidInputError(`queue must be one of ${queueNames.join(', ')}`, 'invalid_query');
  }
  if (state !== undefined && !LISTED_STATES.includes(state as JobState)) {
    throw new InvalidInputError(`state must be one of ${LISTED_STATES.join(', ')}`, 'invalid_query');
  }
  const after = decodeJobCursor(single(req, 'cursor'));
  return {
    limit: parseLimit(req.query.limit, 50, 200),
    ...(queue === undefined ? {} : { queue }),
    ...(state === undefined ? {} : { state: state as JobState }),
    ...(after === undefined ? {} : { after }),
  };
}
