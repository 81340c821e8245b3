-- The control-plane catalog: which PostgreSQL servers exist, which databases live on them and where
-- each tenant is placed. Connection secrets are stored sealed (AES-256-GCM, see src/catalog/secret-box.ts).

CREATE TABLE tiers (
  id text PRIMARY KEY,
  placement text NOT NULL CHECK (placement IN ('shard', 'dedicated')),
  pool_size integer NOT NULL CHECK (pool_size > 0),
  requests_per_minute integer NOT NULL CHECK (requests_per_minute > 0),
  max_users integer,
  max_deployments integer,
  max_workflows integer,
  max_storage_bytes bigint
);

INSERT INTO tiers (id, placement, pool_size, requests_per_minute, max_users, max_deployments, max_workflows, max_storage_bytes)
VALUES
  ('starter', 'shard', 2, 600, 10, 100, 20, 104857600),
  ('pro', 'shard', 5, 3000, 100, 2000, 500, 2147483648),
  ('enterprise', 'dedicated', 10, 20000, NULL, NULL, NULL, NULL);

CREATE TABLE servers (
  id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
  host text NOT NULL,
  port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  admin_url_sealed text NOT NULL,
  app_role text NOT NULL,
  app_password_sealed text NOT NULL,
  max_connections integer NOT NULL CHECK (max_connections > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Shards and dedicated databases alike: every database that holds tenant rows.
CREATE TABLE databases (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('shard', 'dedicated')),
  server_id text NOT NULL REFERENCES servers (id),
  database_name text NOT NULL,
  status text NOT NULL CHECK (status IN ('creating', 'ready', 'dropping')),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (server_id, database_name)
);

CREATE TABLE tenants (
  id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
  name text NOT NULL,
  tier text NOT NULL REFERENCES tiers (id),
  status text NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'moving', 'deleting', 'deleted')),
  database_id text REFERENCES databases (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

CREATE INDEX tenants_database_id_idx ON tenants (database_id) WHERE status <> 'deleted';

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  tenant_id text,
  request_id text,
  details jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);

-- Every change to a tenant's routing-relevant fields tells all running routers at once.
CREATE FUNCTION notify_tenant_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenantplane_tenant_changed', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_notify
AFTER INSERT OR UPDATE OR DELETE ON tenants
FOR EACH ROW EXECUTE FUNCTION notify_tenant_change();
