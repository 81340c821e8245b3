-- The admin API's tenant list filters by tier, status, region and server and pages in id order
-- (src/catalog/tenant-search.ts). Each index leads with the filtered column and ends with id, so a page
-- of a filtered list is one index range read from the cursor on, however many tenants there are. The
-- server filter uses tenants_database_id_idx (0001). Deleted tenants are never listed, so the tier and
-- region indexes leave them out; a status filter names its status.
CREATE INDEX tenants_live_tier_id_idx ON tenants (tier, id) WHERE status <> 'deleted';
CREATE INDEX tenants_status_id_idx ON tenants (status, id);
CREATE INDEX tenants_live_region_id_idx ON tenants (region, id) WHERE status <> 'deleted';
-- An id prefix search reads the primary key's order only under the C collation; this one reads it in any.
CREATE INDEX tenants_id_prefix_idx ON tenants (id text_pattern_ops) WHERE status <> 'deleted';
