import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import type { Knex } from 'knex';
import type { SecretBox } from '../catalog/secret-box.js';
import { ConfigError } from '../errors/index.js';
import type { SigningKey } from './sign-token.js';

/** Serialises the first start of several processes, so they all end up with the same key. */
const CREATE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tenantplane.impersonation-key'))";

/** The impersonation keys in the catalog: the newest signs, all of them verify. */
export interface ImpersonationKeys {
  signing: SigningKey;
  /** The public keys, as published for applications to verify impersonation tokens. */
  jwks: JSONWebKeySet;
}

interface KeyRow {
  kid: string;
  private_jwk_sealed: string;
  public_jwk: JWK;
}

async function newKeyRow(secrets: SecretBox): Promise<KeyRow> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
  return {
    kid,
    private_jwk_sealed: secrets.seal(JSON.stringify({ kty, crv, x, y, d })),
    public_jwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' },
  };
}

/**
 * Reads the impersonation keys from the catalog, creating the first one (sealed with the catalog secret
 * key) when there is none yet. Each process reads them once, at start: a key added later is used by a
 * process after its restart.
 */
export async function loadImpersonationKeys(knex: Knex, secrets: SecretBox): Promise<ImpersonationKeys> {
  const rows = await knex.transaction(async (trx) => {
    await trx.raw(CREATE_LOCK);
    const existing: KeyRow[] = await trx('impersonation_keys').orderBy('created_at', 'desc');
    if (existing.length > 0) return existing;
    const row = await newKeyRow(secrets);
    await trx('impersonation_keys').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
    return [row];
  });
  const newest = rows[0]!;
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(JSON.parse(secrets.open(newest.private_jwk_sealed)), 'ES256')) as CryptoKey;
  } catch {
    // The cipher's own error says nothing more than this.
    throw new ConfigError(
      'the impersonation key in the catalog cannot be opened: was the catalog secret key (CATALOG_SECRET_KEY) changed?',
    );
  }
  return { signing: { kid: newest.kid, privateKey }, jwks: { keys: rows.map((row) => row.public_jwk) } };
}
