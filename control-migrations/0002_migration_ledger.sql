-- The fleet migration ledger: one row per run, one row per database per run.

CREATE TABLE migration_runs (
  id uuid PRIMARY KEY,
  started_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  direction text NOT NULL CHECK (direction IN ('up', 'down')),
  -- up: the last migration to apply (NULL = all); down: the migration to roll back to.
  target_migration text,
  migrations text[] NOT NULL,
  options jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'canary_failed', 'interrupted'))
);

CREATE TABLE migration_run_targets (
  run_id uuid NOT NULL REFERENCES migration_runs (id) ON DELETE CASCADE,
  database_id text NOT NULL,
  server_id text NOT NULL,
  database_name text NOT NULL,
  canary boolean NOT NULL DEFAULT false,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
  applied text[] NOT NULL DEFAULT '{}',
  error text,
  attempts integer NOT NULL DEFAULT 0,
  duration_ms integer,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (run_id, database_id)
);

CREATE INDEX migration_run_targets_database_idx ON migration_run_targets (database_id, run_id);
CREATE INDEX migration_runs_started_idx ON migration_runs (started_at DESC);
