import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import { KeyUnwrapError, TenantKeyDestroyedError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { canonicalContext, type DataKey, type EncryptionContext, type KeyProvider } from './key-provider.js';

export const TENANT_KEY_PURPOSE = 'tenantplane-tenant-key';
/** First byte of a sealed data key, so a future format can be told apart. */
const SEAL_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface TenantKeyringOptions {
  knex: Knex;
  /** Wraps each tenant's key-encryption key (KMS in production). */
  master: KeyProvider;
  /** Unwrapped tenant keys kept in memory. Default 1000. */
  cacheSize?: number;
  /** How long an unwrapped tenant key stays in memory, in ms. Default 300000 (5 minutes). */
  cacheTtlMs?: number;
}

interface TenantKeyRow {
  tenant_id: string;
  wrapped_key: Buffer | null;
  key_id: string | null;
  destroyed_at: Date | null;
}

interface CachedKey {
  wrapped: Buffer;
  key: Buffer;
}

/**
 * A KeyProvider for backups that adds a per-tenant key between the master key and each backup's data
 * key, so one tenant's backups can be made unreadable without touching anyone else's (crypto-shredding).
 *
 * Each tenant gets a random 32-byte key-encryption key (KEK), made by the master provider and stored in
 * the catalog only in wrapped form. A data key's wrapped blob from the master is sealed again with the
 * tenant KEK (AES-256-GCM, the encryption context as authenticated data). `destroy` erases the wrapped
 * KEK: without it no sealed data key opens, whatever the master key can still do.
 *
 * The catalog row is read on every use (one primary-key lookup), so a destroy in any process takes effect
 * in every process at once; only the master unwrap (a KMS call) is cached.
 */
export class TenantKeyring implements KeyProvider {
  private readonly knex: Knex;
  private readonly master: KeyProvider;
  private readonly cache: LRUCache<string, CachedKey>;
  /** Concurrent first uses in this process share one create. */
  private readonly creating = new Map<string, Promise<Buffer>>();

  constructor(options: TenantKeyringOptions) {
    this.knex = options.knex;
    this.master = options.master;
    this.cache = new LRUCache<string, CachedKey>({
      max: options.cacheSize ?? 1000,
      ttl: options.cacheTtlMs ?? 300_000,
      // Expired keys are dropped (and zeroed) on time, not whenever the entry is next touched.
      ttlAutopurge: true,
      // Keys leave memory zeroed, whether evicted, expired or destroyed.
      dispose: (entry) => entry.key.fill(0),
    });
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const tenantId = tenantOf(context);
    const tenantKey = await this.tenantKey(tenantId, true);
    let inner: DataKey;
    let body: Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', tenantKey, iv);
    try {
      inner = await this.master.generateDataKey(context);
      cipher.setAAD(canonicalContext(context));
      body = Buffer.concat([cipher.update(inner.wrapped), cipher.final()]);
    } finally {
      tenantKey.fill(0);
    }
    return {
      plaintext: inner.plaintext,
      wrapped: Buffer.concat([Buffer.of(SEAL_VERSION), iv, cipher.getAuthTag(), body]),
      keyId: inner.keyId,
    };
  }

  async decryptDataKey(wrapped: Buffer, keyId: string, context: EncryptionContext): Promise<Buffer> {
    const tenantId = tenantOf(context);
    if (wrapped.length < 1 + IV_BYTES + TAG_BYTES || wrapped[0] !== SEAL_VERSION) {
      throw new KeyUnwrapError('the data key is not sealed with a tenant key');
    }
    const tenantKey = await this.tenantKey(tenantId, false);
    let inner: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', tenantKey, wrapped.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(canonicalContext(context));
      decipher.setAuthTag(wrapped.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      inner = Buffer.concat([decipher.update(wrapped.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (error) {
      throw new KeyUnwrapError(
        `the data key does not open under tenant ${tenantId}'s key and this encryption context`,
        error,
      );
    } finally {
      tenantKey.fill(0);
    }
    return this.master.decryptDataKey(inner, keyId, context);
  }

  /**
   * Erases the tenant's key material: every backup made for the tenant becomes undecryptable, here and
   * in every other process, and new backups of the tenant are refused. Idempotent. Returns whether live
   * key material existed (false: none was ever made, or it was already destroyed).
   */
  async destroy(tenantId: string): Promise<{ destroyed: boolean; destroyedAt: Date }> {
    assertSlug(tenantId);
    this.cache.delete(tenantId);
    // A tombstone row also stops a backup that starts later from making a fresh key for the tenant.
    const before = await this.readRow(tenantId);
    const [row] = await this.knex('tenant_backup_keys')
      .insert({ tenant_id: tenantId, wrapped_key: null, key_id: null, destroyed_at: this.knex.fn.now() })
      .onConflict('tenant_id')
      .merge({
        wrapped_key: null,
        key_id: null,
        destroyed_at: this.knex.raw('COALESCE(tenant_backup_keys.destroyed_at, now())'),
      })
      .returning(['destroyed_at']);
    this.cache.delete(tenantId);
    return { destroyed: Boolean(before?.wrapped_key), destroyedAt: row.destroyed_at };
  }

  /** Whether the tenant's key material was destroyed. */
  async isDestroyed(tenantId: string): Promise<boolean> {
    return Boolean((await this.readRow(tenantId))?.destroyed_at);
  }

  /** A copy of the tenant's unwrapped KEK (the caller zeroes it); made on first use when `create`. */
  private async tenantKey(tenantId: string, create: boolean): Promise<Buffer> {
    const row = await this.readRow(tenantId);
    if (row?.destroyed_at) {
      this.cache.delete(tenantId);
      throw new TenantKeyDestroyedError(tenantId);
    }
    if (row) return this.unwrap(tenantId, row);
    if (!create)
      throw new KeyUnwrapError(`tenant ${tenantId} has no backup key, so nothing was sealed with it`);
    let pending = this.creating.get(tenantId);
    if (!pending) {
      pending = this.createKey(tenantId).finally(() => this.creating.delete(tenantId));
      this.creating.set(tenantId, pending);
    }
    // Every waiter gets its own copy, since each zeroes what it was given.
    return Buffer.from(await pending);
  }

  /**
   * Makes a KEK and stores it unless another process got there first; either way the stored one wins,
   * so two backups starting at once for a new tenant end up under the same key.
   */
  private async createKey(tenantId: string): Promise<Buffer> {
    const made = await this.master.generateDataKey(kekContext(tenantId));
    const inserted = await this.knex('tenant_backup_keys')
      .insert({ tenant_id: tenantId, wrapped_key: made.wrapped, key_id: made.keyId })
      .onConflict('tenant_id')
      .ignore()
      .returning('tenant_id');
    if (inserted.length === 1) {
      this.cache.set(tenantId, { wrapped: made.wrapped, key: Buffer.from(made.plaintext) });
      return made.plaintext;
    }
    made.plaintext.fill(0);
    const row = await this.readRow(tenantId);
    if (!row || row.destroyed_at) throw new TenantKeyDestroyedError(tenantId);
    return this.unwrap(tenantId, row);
  }

  private async unwrap(tenantId: string, row: TenantKeyRow): Promise<Buffer> {
    const wrapped = row.wrapped_key!;
    const cached = this.cache.get(tenantId);
    // The cache owns its buffer (zeroed when evicted): callers always get a copy.
    if (cached?.wrapped.equals(wrapped)) return Buffer.from(cached.key);
    const key = await this.master.decryptDataKey(wrapped, row.key_id!, kekContext(tenantId));
    this.cache.set(tenantId, { wrapped, key });
    return Buffer.from(key);
  }

  private async readRow(tenantId: string): Promise<TenantKeyRow | undefined> {
    return this.knex<TenantKeyRow>('tenant_backup_keys').where({ tenant_id: tenantId }).first();
  }
}

function kekContext(tenantId: string): EncryptionContext {
  return { purpose: TENANT_KEY_PURPOSE, tenant_id: tenantId };
}

function tenantOf(context: EncryptionContext): string {
  const tenantId = context.tenant_id;
  if (tenantId === undefined)
    throw new TypeError('a tenant keyring needs tenant_id in the encryption context');
  return assertSlug(tenantId);
}
