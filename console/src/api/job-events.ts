import { api, type Schemas } from './client';

const FINISHED = new Set(['completed', 'failed']);

/**
 * Follows a job over GET /admin/v1/jobs/{job_id}/events (server-sent events), read with fetch rather than
 * EventSource so the token travels in the Authorization header, never in a URL. Calls `onJob` with each
 * `data:` event; resolves true once the job has finished, false if the stream ended before that. Rejects
 * when the stream cannot be opened or breaks (the caller then polls instead).
 */
export async function followJobEvents(
  jobId: string,
  onJob: (job: Schemas['Job']) => void,
  signal: AbortSignal,
): Promise<boolean> {
  const { data: body, response } = await api.GET('/admin/v1/jobs/{job_id}/events', {
    params: { path: { job_id: jobId } },
    parseAs: 'stream',
    signal,
  });
  if (!response.ok || !body) throw new Error(`job events: ${response.status}`);
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return finished;
    buffered += value;
    // Events end with a blank line; a partial one waits in the buffer for the rest.
    const events = buffered.split('\n\n');
    buffered = events.pop() ?? '';
    for (const event of events) {
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue; // a `: keep-alive` comment
      const job = JSON.parse(data) as Schemas['Job'];
      onJob(job);
      if (FINISHED.has(job.state)) finished = true;
    }
  }
}
