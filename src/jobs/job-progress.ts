import type { JobQueue } from './job-queue.js';

const POLL_MS = 200;

/**
 * Waits for a job, calling `onProgress` each time the progress it reports changes (an object of the job's own shape; the job may run in this
 * process or on a worker: progress is read back from the queue either way). Resolves with its result.
 */
export async function waitWithProgress<Progress extends object>(
  jobs: JobQueue,
  queue: string,
  jobId: string,
  onProgress: (progress: Progress) => void,
): Promise<unknown> {
  let last = '';
  const poll = async () => {
    const snapshot = await jobs.get(queue, jobId).catch(() => undefined);
    const progress = snapshot?.progress;
    if (progress && typeof progress === 'object') {
      const key = JSON.stringify(progress);
      if (key !== last) {
        last = key;
        onProgress(progress as Progress);
      }
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  try {
    const result = await jobs.wait(queue, jobId);
    await poll();
    return result;
  } finally {
    clearInterval(timer);
  }
}
