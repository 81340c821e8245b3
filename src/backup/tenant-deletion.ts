import type { Actor, Catalog } from '../catalog/catalog.js';
import type { TenantRecord } from '../catalog/records.js';
import { assertSlug } from '../ids.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import type { ObjectStore } from './object-store.js';
import { tenantExportsPrefix } from './tenant-export.js';
import type { TenantKeyring } from './tenant-keyring.js';

export interface TenantDeletion {
  tenant: TenantRecord;
  /** Set when the tenant's backup keys were destroyed (crypto-shredding) as part of this delete. */
  backupKeys?: { destroyed: boolean; destroyedAt: Date };
  /** With the keys: how many objects of the tenant's plaintext exports in the backup store were removed. */
  exportsRemoved?: number;
}

/**
 * Deletes a tenant and, with `destroyBackups`, then destroys its backup key material so no backup of it
 * can ever be decrypted, and removes its exports from the backup store: they are plaintext, so no key
 * protects them (both recorded in the audit log). The keys go only after the delete succeeded; a tenant
 * already deleted may be re-run with `destroyBackups` to shred its backups later. Exports written elsewhere
 * (`export --to`) are not known to tenantplane and stay.
 */
export async function deleteTenant(
  services: {
    tenants: TenantProvisioner;
    catalog: Catalog;
    backupKeys: TenantKeyring;
    objectStore: ObjectStore;
  },
  input: { id: string; confirm: string | undefined; destroyBackups?: boolean },
  actor: Actor,
): Promise<TenantDeletion> {
  const id = assertSlug(input.id);
  const existing = await services.catalog.getTenant(id);
  const tenant =
    input.destroyBackups && existing?.status === 'deleted' && input.confirm === id
      ? existing
      : await services.tenants.delete({ id, confirm: input.confirm }, actor);
  // Reaching here means the confirmation matched: the delete checks it, and so does the re-run above.
  if (!input.destroyBackups) return { tenant };
  const backupKeys = await services.backupKeys.destroy(id);
  await services.catalog.audit(actor, 'tenant.backup_keys_destroyed', id, {
    had_key_material: backupKeys.destroyed,
    destroyed_at: backupKeys.destroyedAt.toISOString(),
  });
  const exports = await services.objectStore.list(tenantExportsPrefix(id));
  for (const object of exports) await services.objectStore.delete(object.key);
  await services.catalog.audit(actor, 'tenant.exports_removed', id, { objects: exports.length });
  return { tenant, backupKeys, exportsRemoved: exports.length };
}
