-- A tenant move between a shard and a dedicated database in progress: one row per tenant, written before
-- the move touches anything and removed once it has finished or been rolled back. A process killed halfway
-- leaves the row behind, and the next move of that tenant reads it to roll back or finish the work.
CREATE TABLE tenant_moves (
  tenant_id text PRIMARY KEY REFERENCES tenants (id),
  from_database_id text NOT NULL,
  to_database_id text NOT NULL,
  from_tier text NOT NULL REFERENCES tiers (id),
  to_tier text NOT NULL REFERENCES tiers (id),
  -- The status to give the tenant back when the move ends (a suspended tenant stays suspended).
  from_status text NOT NULL CHECK (from_status IN ('active', 'suspended')),
  -- copying: the old placement serves and is the truth; the target may hold a partial copy.
  -- switched: the catalog points at the target; only the old placement's cleanup is left.
  state text NOT NULL CHECK (state IN ('copying', 'switched')),
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
