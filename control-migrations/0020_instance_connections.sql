-- What each instance's routers hold on each server as of its last heartbeat, for the Fleet view
-- (src/catalog/fleet-view.ts): {"<server id>": {"in_use": n, "idle": n}}. Instances of the version before
-- leave it empty, and are shown holding nothing.
ALTER TABLE instances ADD COLUMN connections jsonb NOT NULL DEFAULT '{}'::jsonb;
