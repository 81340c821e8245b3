-- The catalog snapshot each serving instance last confirmed: every tenant change a transaction visible in
-- it made is reflected in the instance's routing. A move waits for its pausing transaction to be visible
-- in every live serving instance's snapshot. catalog_xmin (the snapshot's xmin) said less: a transaction
-- open anywhere on the server, a backup's snapshot on a tenant database beside the catalog, say, held it
-- back, and every move with it. catalog_xmin is still written, for instances of the version before.
ALTER TABLE instances ADD COLUMN catalog_snapshot pg_snapshot;
