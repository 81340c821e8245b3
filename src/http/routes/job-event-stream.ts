import type { Request, Response } from 'express';
import { NotFoundError } from '../../errors/index.js';

/** A job as the API shows it. */
export interface JobView {
  id: string;
  state: string;
  progress: unknown;
  result: unknown;
  error: string | null;
  error_code: string | null;
}

const FINISHED = new Set(['completed', 'failed']);
/** How often the queue is read again while a client follows a job. */
const POLL_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15000;

/**
 * Follows a job as server-sent events: its current view at once, then each change of it, ending after it
 * has finished. Reads the queue the same way the JSON route does (one code path for BullMQ and inline),
 * and stops reading once the client goes away.
 */
export async function streamJobEvents(
  req: Request,
  res: Response,
  read: (id: string) => Promise<JobView | undefined>,
): Promise<void> {
  const id = String(req.params.id);
  const first = await read(id);
  if (!first) throw new NotFoundError('no such job', 'job_not_found');
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.flushHeaders();

  let closed = false;
  let pollTimer: NodeJS.Timeout | undefined;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  const stop = () => {
    closed = true;
    clearTimeout(pollTimer);
    clearInterval(keepAlive);
  };
  req.on('close', stop);

  let last = JSON.stringify(first);
  res.write(`data: ${last}\n\n`);
  if (FINISHED.has(first.state)) {
    stop();
    res.end();
    return;
  }
  const poll = async () => {
    if (closed) return;
    let job: JobView | undefined;
    try {
      job = await read(id);
    } catch {
      // The queue or catalog went away mid-stream: end the stream; the console falls back to polling.
      stop();
      res.end();
      return;
    }
    if (closed) return;
    const now = job ? JSON.stringify(job) : last;
    if (now !== last) {
      last = now;
      res.write(`data: ${now}\n\n`);
    }
    if (!job || FINISHED.has(job.state)) {
      stop();
      res.end();
      return;
    }
    pollTimer = setTimeout(poll, POLL_MS);
  };
  pollTimer = setTimeout(poll, POLL_MS);
}
