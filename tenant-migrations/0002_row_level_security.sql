-- Row-level security on tenant_id, forced so that not even the tables' owner bypasses it.
-- The current tenant comes from the `tenantplane.tenant_id` setting: set per transaction on a shard,
-- fixed per database (ALTER DATABASE ... SET) on a dedicated database. Unset means no rows at all.

CREATE FUNCTION tenantplane_current_tenant() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('tenantplane.tenant_id', true), '') $$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());

ALTER TABLE deployments ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deployments
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());

ALTER TABLE workflows ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflows
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());
