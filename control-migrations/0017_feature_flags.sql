-- Feature flags: each tier's defaults and each tenant's own overrides, as JSON objects from flag name (a
-- slug, as tenant ids are) to true or false. A tenant's effective flags are its tier's overlaid by its own.
-- No new trigger is needed: an update of a tenant row notifies its id (0001) and one of a tier row every
-- tenant ('*', 0008), so every instance's cached route, which carries the effective flags, is read anew.

-- Whether `flags` is an object of slug names to booleans; the catalog refuses anything else.
CREATE FUNCTION feature_flags_valid(flags jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN jsonb_typeof(flags) IS DISTINCT FROM 'object' THEN false
    ELSE NOT EXISTS (
      SELECT 1 FROM jsonb_each(flags) AS flag (name, value)
       WHERE flag.name !~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$' OR jsonb_typeof(flag.value) <> 'boolean'
    )
  END
$$;

ALTER TABLE tiers ADD COLUMN features jsonb NOT NULL DEFAULT '{}' CHECK (feature_flags_valid(features));

ALTER TABLE tenants
  ADD COLUMN feature_overrides jsonb NOT NULL DEFAULT '{}' CHECK (feature_flags_valid(feature_overrides));
