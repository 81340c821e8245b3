-- Per-tenant backups and the requests that start exports, backups and restores.

-- One row per backup. A backup is `pending` until its object is fully stored with the size and SHA-256
-- recorded here; only `complete` rows are backups anyone may restore. A retry of a killed job finds its
-- row pending and finishes it; a job that fails for good marks it `failed` and removes the object.
CREATE TABLE backups (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'complete', 'failed')),
  object_key text NOT NULL,
  size_bytes bigint,
  sha256 text,
  schema_version text,
  key_id text,
  row_counts jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  error text,
  CHECK (state <> 'complete' OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND schema_version IS NOT NULL))
);

CREATE INDEX backups_tenant_idx ON backups (tenant_id, created_at DESC);

-- Export, backup and restore requests. The same idempotency key is the same job; without a key, a request
-- while one of the same kind is queued or running for the tenant joins it (the partial unique index makes
-- two racing requests agree).
CREATE TABLE backup_requests (
  -- Also the export or backup id the request produces.
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('export', 'backup', 'restore')),
  job_id text NOT NULL,
  idempotency_key text,
  params jsonb NOT NULL DEFAULT '{}',
  actor text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX backup_requests_key_idx ON backup_requests (tenant_id, kind, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX backup_requests_active_idx ON backup_requests (tenant_id, kind) WHERE active;
