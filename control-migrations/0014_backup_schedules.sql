-- Backups that run themselves. A tier may have one schedule: every active tenant of the tier is backed up
-- every `every_seconds`; complete backups beyond the newest `keep_count`, or older than `keep_days` (when
-- set), are pruned, never the newest complete one and never one under a legal hold; a restore drill of
-- each tenant's newest complete backup runs every `drill_every_seconds` (when set).
CREATE TABLE backup_schedules (
  tier text PRIMARY KEY REFERENCES tiers (id),
  every_seconds integer NOT NULL CHECK (every_seconds >= 1),
  keep_count integer NOT NULL CHECK (keep_count >= 1),
  keep_days integer CHECK (keep_days >= 1),
  drill_every_seconds integer CHECK (drill_every_seconds >= 1),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A legal hold: the backup is never pruned while it is set (`backups hold` / `backups release`).
ALTER TABLE backups ADD COLUMN held boolean NOT NULL DEFAULT false;

-- Pruning deletes the stored object first and the row last. `deleting` marks a row whose object may be
-- gone already: a prune that crashed in between is finished by the next one, and nothing restores from it.
ALTER TABLE backups DROP CONSTRAINT backups_state_check;
ALTER TABLE backups ADD CONSTRAINT backups_state_check
  CHECK (state IN ('pending', 'complete', 'failed', 'deleting'));

-- The scheduler's memory of what it has started: one slot per tenant and kind, so a slot missed while every
-- worker was down runs once when they return, not once per missed period.
CREATE TABLE backup_schedule_runs (
  tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('backup', 'drill')),
  last_started_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, kind)
);

-- Restore drills: a backup restored into a scratch database and checked against its manifest.
CREATE TABLE backup_drills (
  id bigserial PRIMARY KEY,
  backup_id text NOT NULL,
  tenant_id text NOT NULL,
  passed boolean,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- Per table: rows and digest expected (the manifest) and found; timings; the failure, if any.
  details jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX backup_drills_backup_idx ON backup_drills (backup_id, id DESC);
