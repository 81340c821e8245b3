-- Where a tenant may be placed. A server may name its region (NULL: none) and be draining (it takes no new
-- placements: no new shard tenant, no new dedicated database, no move onto it). A tenant may be pinned to
-- a region (NULL: unpinned, placed anywhere): it is then only ever placed on servers of that region. The
-- pattern is the one the code checks (src/placement/region.ts): lowercase letters, digits and '-', like
-- ids, 2 to 40 characters (`eu`, `us-east-1`). Existing servers get no region and keep taking tenants;
-- existing tenants stay unpinned.
ALTER TABLE servers
  ADD COLUMN region text CHECK (region ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
  ADD COLUMN draining boolean NOT NULL DEFAULT false;

ALTER TABLE tenants ADD COLUMN region text CHECK (region ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$');
