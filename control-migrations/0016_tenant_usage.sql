-- What each tenant used, per hour, for billing. Every serving instance adds its requests, errors, database
-- time and bytes to the hour's row in one statement every USAGE_FLUSH_INTERVAL_MS (src/usage/usage-meter.ts);
-- the usage sampler sets the hour's storage_bytes and rows (NULL until sampled). No foreign key to tenants:
-- a deleted tenant's usage is still billed, until the retention (USAGE_RETENTION_DAYS) deletes old hours.
CREATE TABLE tenant_usage (
  tenant_id text NOT NULL,
  -- The start of the hour (UTC) the counts belong to: truncated in UTC, since in a session time zone with a
  -- half-hour offset the local hour starts at another moment.
  period_start timestamptz NOT NULL
    CHECK (date_trunc('hour', period_start AT TIME ZONE 'UTC') = period_start AT TIME ZONE 'UTC'),
  requests bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
  errors_4xx bigint NOT NULL DEFAULT 0 CHECK (errors_4xx >= 0),
  errors_5xx bigint NOT NULL DEFAULT 0 CHECK (errors_5xx >= 0),
  -- Milliseconds the tenant's requests held a database connection (from acquiring it to releasing it).
  db_time_ms double precision NOT NULL DEFAULT 0 CHECK (db_time_ms >= 0),
  bytes_in bigint NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
  bytes_out bigint NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
  storage_bytes bigint CHECK (storage_bytes >= 0),
  rows bigint CHECK (rows >= 0),
  PRIMARY KEY (tenant_id, period_start)
);

-- The CSV export and the retention read by hour across every tenant.
CREATE INDEX tenant_usage_period_idx ON tenant_usage (period_start);

-- The sampler's progress through each hour, one row per hour: every tick (of whichever process) takes the
-- next batch of live tenants by id after after_tenant and moves it on, so the hour is sampled once, in
-- batches spread over ticks and processes; finished_at is set once no tenant is left.
CREATE TABLE usage_sample_runs (
  period_start timestamptz PRIMARY KEY,
  after_tenant text NOT NULL DEFAULT '',
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
