-- A digest of each table's rows, recorded with the backup (src/backup/drills/row-digest.ts): a restore
-- drill recomputes it from the rows it loaded. Backups from before this column have none and are drilled by
-- row counts only.
ALTER TABLE backups ADD COLUMN table_digests jsonb;

-- A tenant's last drill, for `backups status` and /metrics.
CREATE INDEX backup_drills_tenant_idx ON backup_drills (tenant_id, id DESC);

-- Each tenant's newest complete backup in one index probe: /metrics and `backups status` ask for all of them.
CREATE INDEX backups_newest_complete_idx ON backups (tenant_id, completed_at DESC) WHERE state = 'complete';
