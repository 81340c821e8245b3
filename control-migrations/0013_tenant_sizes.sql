-- The bytes of each shard tenant's rows as a rebalance last measured them (src/placement/tenant-bytes.ts:
-- pg_column_size of every row, as storage quotas count), so that placement weighs shards by the measure
-- the rebalance evens out, without measuring anything itself. Written by every rebalance and dry run, and
-- by a rebalance's moves for where they took the tenant. database_id is where the tenant was when measured:
-- the size counts for a shard only while the tenant is still there, so a tenant moved some other way is
-- weighed by no shard until it is measured again. A database or tenant removed takes its sizes with it.
CREATE TABLE tenant_sizes (
  tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  database_id text NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
  bytes bigint NOT NULL CHECK (bytes >= 0),
  measured_at timestamptz NOT NULL DEFAULT now()
);

-- Deleting a database finds its sizes by this index rather than by reading the whole table.
CREATE INDEX tenant_sizes_database_id_idx ON tenant_sizes (database_id);
