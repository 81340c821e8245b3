-- Per-tenant key material for backups (crypto-shredding). Each tenant has a 32-byte key-encryption key
-- (KEK), stored only wrapped by the master key (KMS or the local development key) under the context
-- {purpose: tenantplane-tenant-key, tenant_id}. Every backup's wrapped data key is also sealed with it,
-- so setting wrapped_key to NULL makes every backup of the tenant undecryptable.
CREATE TABLE tenant_backup_keys (
  tenant_id text PRIMARY KEY CHECK (tenant_id ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
  wrapped_key bytea,
  -- The master key that wrapped it (a KMS key ARN, or local:v1).
  key_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  -- Live: material and its key id, no destroyed_at. Destroyed: no material, destroyed_at set.
  CHECK ((wrapped_key IS NOT NULL AND key_id IS NOT NULL AND destroyed_at IS NULL)
      OR (wrapped_key IS NULL AND destroyed_at IS NOT NULL))
);
