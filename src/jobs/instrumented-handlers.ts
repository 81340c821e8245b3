import type { Metrics } from '../metrics/metrics.js';
import { traceJob } from '../tracing/job-spans.js';
import type { JobHandler } from './job-queue.js';

/** The same handlers, each attempt counted and timed by queue and outcome in `metrics`, and traced. */
export function instrumentedHandlers(
  handlers: Record<string, JobHandler>,
  metrics: Pick<Metrics, 'recordJob'>,
): Record<string, JobHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([queue, handler]): [string, JobHandler] => [
      queue,
      async (data, context) => {
        const started = performance.now();
        try {
          const result = await traceJob(queue, data, context.attempt, () => handler(data, context));
          metrics.recordJob(queue, 'completed', (performance.now() - started) / 1000);
          return result;
        } catch (error) {
          metrics.recordJob(queue, 'failed', (performance.now() - started) / 1000);
          throw error;
        }
      },
    ]),
  );
}
