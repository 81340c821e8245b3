import { UnavailableError } from '../errors/index.js';
import type { JobQueue } from './job-queue.js';

/** A read of the queue unanswered this long asks whether its store answers at all; again as long as it waits. */
const QUEUE_CHECK_MS = 1000;

/**
 * What `read` (a read of the queue) answers, or 503 `redis_unreachable` once the queue's store stops
 * answering. BullMQ's Redis connection holds commands while Redis is away (retrying without end, as its
 * workers need), so a read would otherwise wait until Redis is back: a request that hangs, an event stream
 * that goes silent. A slow read whose store still answers is waited for. The inline queue always answers.
 */
export async function readQueue<T>(jobs: Pick<JobQueue, 'reachable'>, read: Promise<T>): Promise<T> {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const unreachable = new Promise<never>((_, reject) => {
    const check = async () => {
      const answers = await jobs.reachable().catch(() => false);
      if (settled) return;
      if (!answers) {
        reject(
          new UnavailableError('the job queue (Redis) is unreachable', 'redis_unreachable', {
            retryAfterSeconds: 1,
          }),
        );
        return;
      }
      timer = setTimeout(check, QUEUE_CHECK_MS);
    };
    timer = setTimeout(check, QUEUE_CHECK_MS);
  });
  try {
    return await Promise.race([read, unreachable]);
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}
