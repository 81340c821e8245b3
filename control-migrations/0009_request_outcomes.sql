-- How an export, backup or restore request ended, kept in the catalog. The queue forgets a job (BullMQ
-- removes finished ones after days, the inline queue on every restart), and enqueuing a forgotten job id
-- makes a new job that does the work again: a replayed restore would roll the tenant back once more. A
-- request with its outcome recorded is never enqueued again; a replay, and `GET /admin/v1/jobs/:id` once
-- the queue no longer knows the job, answer with what is recorded here. All NULL while the request is
-- active, and for requests that finished before this migration.
ALTER TABLE backup_requests
  ADD COLUMN state text CHECK (state IN ('completed', 'failed')),
  -- What the job returned (completed).
  ADD COLUMN result jsonb,
  -- The last attempt's error message and code (failed).
  ADD COLUMN error text,
  ADD COLUMN error_code text,
  ADD COLUMN finished_at timestamptz,
  ADD CONSTRAINT backup_requests_outcome_finished CHECK (state IS NULL OR NOT active);

-- The job status route finds a request by its job id once the queue no longer knows the job.
CREATE INDEX backup_requests_job_idx ON backup_requests (job_id);
