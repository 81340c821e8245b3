-- The product's application tables. Every row carries tenant_id; the same schema serves shared shards
-- and dedicated databases. Row-level security (0002) makes tenant_id the isolation boundary.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  email text NOT NULL,
  name text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email)
);

CREATE TABLE deployments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  project_name text NOT NULL,
  status text NOT NULL,
  url text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE workflows (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  config jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE audit_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  status text NOT NULL DEFAULT 'recorded',
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- (tenant_id, created_at DESC, id DESC) serves the newest-first cursor pagination directly; the id breaks
-- ties between rows created in the same microsecond.
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC);
CREATE INDEX users_tenant_status_idx ON users (tenant_id, status);
CREATE INDEX deployments_tenant_created_idx ON deployments (tenant_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_status_idx ON deployments (tenant_id, status);
CREATE INDEX workflows_tenant_created_idx ON workflows (tenant_id, created_at DESC, id DESC);
CREATE INDEX workflows_tenant_status_idx ON workflows (tenant_id, status);
CREATE INDEX audit_events_tenant_created_idx ON audit_events (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_events_tenant_status_idx ON audit_events (tenant_id, status);
