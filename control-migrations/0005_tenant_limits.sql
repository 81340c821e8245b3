-- Per-tenant overrides of the tier's request rate. NULL keeps the tier's requests_per_minute, so a tier
-- change moves every tenant without an override at once.
ALTER TABLE tenants ADD COLUMN requests_per_minute integer CHECK (requests_per_minute > 0);

-- The audit API lists newest first across all tenants by id; the primary key serves that. By tenant it
-- uses audit_log_tenant_idx (tenant_id, id DESC) from 0001.
