-- Every running `serve` and `worker` process. Each renews its row (heartbeat_at) every second or so; a row
-- not renewed within lease_ms belongs to a process that died or lost the catalog, and any other instance
-- may delete it and take back its share.
CREATE TABLE instances (
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('serve', 'worker')),
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  lease_ms integer NOT NULL CHECK (lease_ms > 0),
  -- The part of every server's router budget (servers.max_connections times the router's share) this
  -- instance may hold, in millionths. Raised only while the sum over live rows stays within 1000000
  -- (checked under an advisory lock); lowered only once the instance holds no more than the new share.
  router_share_ppm integer NOT NULL DEFAULT 0 CHECK (router_share_ppm BETWEEN 0 AND 1000000),
  -- Every tenant change committed by a transaction older than this is reflected in this instance's
  -- routing: a move waits for every live serving instance to pass the transaction that paused the tenant.
  -- NULL until the instance first confirms.
  catalog_xmin xid8
);
