-- Quotas are data: each row is one quota of a tier, naming what it counts. `rows:<table>` counts the
-- tenant's rows in that table of the tenant schema (public schema, with a tenant_id column); a table the
-- schema does not have counts nothing. `storage_bytes` is the size of the tenant's rows in every tenant
-- table. `maximum` NULL: measured and reported, never limited. A tier without a row for a quota has no
-- such quota, so a team's own tenant schema (TENANT_MIGRATIONS_DIR) names its own tables here, or none.
CREATE TABLE tier_quotas (
  tier text NOT NULL REFERENCES tiers (id) ON UPDATE CASCADE ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$' AND name <> 'requests_per_minute'),
  counts text NOT NULL CHECK (counts ~ '^rows:[a-z_][a-z0-9_]{0,62}$' OR counts = 'storage_bytes'),
  maximum bigint CHECK (maximum >= 0),
  PRIMARY KEY (tier, name),
  -- Limits and usage are keyed by quota name next to storage_bytes: the name says the one storage quota.
  CHECK ((name = 'storage_bytes') = (counts = 'storage_bytes'))
);

-- The sample application's quotas (tenant-migrations/: users, deployments, workflows), from the columns
-- they were until now, for every tier as it stands, unlimited ones included.
INSERT INTO tier_quotas (tier, name, counts, maximum)
SELECT id, 'users', 'rows:users', max_users FROM tiers
UNION ALL SELECT id, 'deployments', 'rows:deployments', max_deployments FROM tiers
UNION ALL SELECT id, 'workflows', 'rows:workflows', max_workflows FROM tiers
UNION ALL SELECT id, 'storage_bytes', 'storage_bytes', max_storage_bytes FROM tiers;

-- The columns stay, kept equal to the sample's quota rows both ways: an instance of the previous version
-- still serving during a rolling upgrade reads them for its routes, and scripts that set them keep
-- working. A write made by one of these triggers is not synced back (pg_trigger_depth), so they never
-- loop. A later migration may drop the columns once no older instance runs.
COMMENT ON COLUMN tiers.max_users IS 'deprecated: tier_quotas row users (rows:users), kept in sync';
COMMENT ON COLUMN tiers.max_deployments IS 'deprecated: tier_quotas row deployments (rows:deployments), kept in sync';
COMMENT ON COLUMN tiers.max_workflows IS 'deprecated: tier_quotas row workflows (rows:workflows), kept in sync';
COMMENT ON COLUMN tiers.max_storage_bytes IS 'deprecated: tier_quotas row storage_bytes, kept in sync';

CREATE FUNCTION tier_quota_columns_to_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  quota record;
BEGIN
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  FOR quota IN
    SELECT * FROM (VALUES
      ('users', 'rows:users', OLD.max_users::bigint, NEW.max_users::bigint),
      ('deployments', 'rows:deployments', OLD.max_deployments::bigint, NEW.max_deployments::bigint),
      ('workflows', 'rows:workflows', OLD.max_workflows::bigint, NEW.max_workflows::bigint),
      ('storage_bytes', 'storage_bytes', OLD.max_storage_bytes, NEW.max_storage_bytes)
    ) AS c (name, counts, old_maximum, new_maximum)
    WHERE old_maximum IS DISTINCT FROM new_maximum
  LOOP
    IF quota.new_maximum IS NULL THEN
      -- Unlimited: a quota the tier has becomes unlimited; one it does not have stays absent.
      UPDATE tier_quotas SET maximum = NULL WHERE tier = NEW.id AND name = quota.name;
    ELSE
      INSERT INTO tier_quotas (tier, name, counts, maximum)
      VALUES (NEW.id, quota.name, quota.counts, quota.new_maximum)
      ON CONFLICT (tier, name) DO UPDATE SET counts = EXCLUDED.counts, maximum = EXCLUDED.maximum;
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$;

CREATE TRIGGER tiers_quota_columns
AFTER UPDATE OF max_users, max_deployments, max_workflows, max_storage_bytes ON tiers
FOR EACH ROW EXECUTE FUNCTION tier_quota_columns_to_rows();

CREATE FUNCTION set_tier_quota_column(tier_id text, quota text, counts text, maximum bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  -- A quota by a sample name that counts something else is not the sample's: its column reads unlimited.
  value bigint := CASE
    WHEN counts = CASE quota WHEN 'storage_bytes' THEN 'storage_bytes' ELSE 'rows:' || quota END THEN maximum
  END;
  -- The count columns are integers: a larger limit reads as the largest they hold (NULL stays NULL).
  count_value integer := CASE WHEN value > 2147483647 THEN 2147483647 ELSE value END;
BEGIN
  CASE quota
    WHEN 'users' THEN
      UPDATE tiers SET max_users = count_value WHERE id = tier_id;
    WHEN 'deployments' THEN
      UPDATE tiers SET max_deployments = count_value WHERE id = tier_id;
    WHEN 'workflows' THEN
      UPDATE tiers SET max_workflows = count_value WHERE id = tier_id;
    WHEN 'storage_bytes' THEN
      UPDATE tiers SET max_storage_bytes = value WHERE id = tier_id;
    ELSE
      NULL;
  END CASE;
END;
$$;

CREATE FUNCTION tier_quota_rows_to_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.tier, OLD.name) IS DISTINCT FROM (NEW.tier, NEW.name)) THEN
    PERFORM set_tier_quota_column(OLD.tier, OLD.name, OLD.counts, NULL);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM set_tier_quota_column(NEW.tier, NEW.name, NEW.counts, NEW.maximum);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER tier_quotas_columns
AFTER INSERT OR UPDATE OR DELETE ON tier_quotas
FOR EACH ROW EXECUTE FUNCTION tier_quota_rows_to_columns();

-- Routes carry their tier's quotas: a change tells every router to drop its routes, as a tier change does.
CREATE TRIGGER tier_quotas_notify
AFTER INSERT OR UPDATE OR DELETE ON tier_quotas
FOR EACH STATEMENT EXECUTE FUNCTION notify_all_tenants_changed();
