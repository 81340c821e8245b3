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
import { ALL_TENANTS, TENANT_CHANGED_CHANNEL } from '../catalog/tenant-directory.js';
import { ConfigError, UnauthenticatedError, UnavailableError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { IMPERSONATION_MAX_SECONDS } from './impersonation-issuer.js';
import type { KeySource } from './key-source.js';
import type { SigningKey } from './sign-token.js';

/** Serialises the first start of several processes, and rotations, so they all agree on the newest key. */
const KEYS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tenantplane.impersonation-key'))";

/** The audit action of `tenantctl impersonation rotate-key`. */
export const IMPERSONATION_KEY_ROTATED_ACTION = 'impersonation.key.rotated';

/**
 * How long a key stays trusted after a newer one took over signing, in seconds, before a rotation deletes
 * it: the longest token it may have signed just before (IMPERSONATION_MAX_SECONDS), plus 15 minutes for
 * what stretches that: the verifiers' clock tolerance (30 s here, whatever applications allow), clocks that
 * disagree with the catalog's, and a process that signed with it a little after the rotation (until its
 * reload, normally milliseconds, at most KEY_SET_MAX_AGE_MS). Deleting it earlier would refuse tokens
 * still in flight; keeping it longer only widens what a leaked old key can sign for.
 */
export const IMPERSONATION_KEY_RETENTION_SECONDS = IMPERSONATION_MAX_SECONDS + 15 * 60;

/**
 * A process re-reads the key set when it is older than this, in ms, before signing (and in the background
 * when verifying or publishing it): a bound on staleness that holds even if a change notification was
 * missed. Notifications normally make it milliseconds.
 */
const KEY_SET_MAX_AGE_MS = 30_000;

/**
 * Reads caused by tokens naming a kid this process does not know are at least this far apart, in ms: a
 * token signed with a key added a moment ago waits for the next read rather than failing, and a stream of
 * made-up kids costs the catalog one query a second per process, no more.
 */
const UNKNOWN_KID_READ_INTERVAL_MS = 1000;

interface KeyRow {
  kid: string;
  private_jwk_sealed: string;
  public_jwk: JWK;
  created_at: Date;
}

async function newKeyRow(secrets: SecretBox): Promise<Omit<KeyRow, 'created_at'>> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
  return {
    kid,
    private_jwk_sealed: secrets.seal(JSON.stringify({ kty, crv, x, y, d })),
    public_jwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' },
  };
}

async function insertKey(trx: Knex.Transaction, secrets: SecretBox): Promise<string> {
  const row = await newKeyRow(secrets);
  await trx('impersonation_keys').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
  return row.kid;
}

/** Newest first; the kid breaks a tie so every process picks the same signing key. */
function readKeys(knex: Knex): Promise<KeyRow[]> {
  return knex('impersonation_keys')
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'kid', order: 'desc' },
    ])
    .select('kid', 'private_jwk_sealed', 'public_jwk', 'created_at');
}

async function openPrivateKey(secrets: SecretBox, row: KeyRow): Promise<CryptoKey> {
  try {
    return (await importJWK(JSON.parse(secrets.open(row.private_jwk_sealed)), 'ES256')) as CryptoKey;
  } catch {
    // The cipher's own error says nothing more than this.
    throw new ConfigError(
      'the impersonation key in the catalog cannot be opened: was the catalog secret key (CATALOG_SECRET_KEY) changed?',
    );
  }
}

/** What a rotation did. */
export interface KeyRotation {
  /** The new key, which every process signs with from now on. */
  kid: string;
  /** Every key still trusted, newest first (the new one included). */
  trusted: string[];
  /** Keys deleted: superseded more than IMPERSONATION_KEY_RETENTION_SECONDS ago. */
  retired: string[];
}

/**
 * Adds a new impersonation key, which becomes the signing key, and deletes the keys a newer key superseded
 * more than IMPERSONATION_KEY_RETENTION_SECONDS ago (a key's tokens are signed until its successor is
 * created, so that, not its own age, says when its last token expires). Audited. Every serving process is
 * told on the catalog's change channel and re-reads the keys (see ImpersonationKeyRing).
 */
export async function rotateImpersonationKey(deps: {
  knex: Knex;
  secrets: SecretBox;
  audit(action: string, details: Record<string, unknown>): Promise<void>;
}): Promise<KeyRotation> {
  const rotation = await deps.knex.transaction(async (trx) => {
    await trx.raw(KEYS_LOCK);
    const kid = await insertKey(trx, deps.secrets);
    const retired: { kid: string }[] = await trx('impersonation_keys as k')
      .whereExists(
        trx('impersonation_keys as newer')
          .whereRaw('newer.created_at > k.created_at')
          .whereRaw('newer.created_at < now() - make_interval(secs => ?)', [
            IMPERSONATION_KEY_RETENTION_SECONDS,
          ]),
      )
      .delete()
      .returning('kid');
    const trusted = (await readKeys(trx)).map((row) => row.kid);
    // The change channel every serving process listens on: '*' tells each to re-check all it caches,
    // the impersonation keys included (routers drop their cached routes too, as after a tier change;
    // rotations are rare). Delivered on commit.
    await trx.raw('SELECT pg_notify(?, ?)', [TENANT_CHANGED_CHANNEL, ALL_TENANTS]);
    return { kid, trusted, retired: retired.map((row) => row.kid) };
  });
  await deps.audit(IMPERSONATION_KEY_ROTATED_ACTION, { ...rotation });
  return rotation;
}

/**
 * The impersonation keys in the catalog as one process holds them: the newest signs, all of them verify
 * (and are published). The first to open creates the first key when there is none.
 *
 * How a process learns of a rotation without a restart: `reload()` re-reads the table (one small query).
 * It is called
 * - when the catalog's change channel says everything may have changed (a rotation notifies it; so do the
 *   channel being lost and coming back, when a notification may have been missed): milliseconds;
 * - when a token names a kid the process does not know (a process that reloaded first signed it), at most
 *   once a second (UNKNOWN_KID_READ_INTERVAL_MS), the token waiting for that read;
 * - before signing and on any use when the keys were read more than KEY_SET_MAX_AGE_MS ago, so the
 *   signing key is never older than that even if every notification were missed.
 * A read that fails keeps the keys held so far (logged): they were all trusted a moment ago.
 */
export class ImpersonationKeyRing implements KeySource {
  readonly #knex: Knex;
  readonly #secrets: SecretBox;
  readonly #logger: Logger | undefined;
  #signing: SigningKey;
  /** The public keys by kid, newest first; a kept key keeps its object, as verifier caches compare them. */
  #keys: Map<string, JWK>;
  #loadedAt: number;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #unknownKidRead: Promise<void> | undefined;
  #lastUnknownKidReadAt = Number.NEGATIVE_INFINITY;

  private constructor(knex: Knex, secrets: SecretBox, logger: Logger | undefined, loaded: Loaded) {
    this.#knex = knex;
    this.#secrets = secrets;
    this.#logger = logger;
    this.#signing = loaded.signing;
    this.#keys = loaded.keys;
    this.#loadedAt = loaded.at;
  }

  /** Reads the keys, creating the first one (sealed with the catalog secret key) when there is none yet. */
  static async open(knex: Knex, secrets: SecretBox, logger?: Logger): Promise<ImpersonationKeyRing> {
    await knex.transaction(async (trx) => {
      await trx.raw(KEYS_LOCK);
      const [existing] = await trx('impersonation_keys').select('kid').limit(1);
      if (!existing) await insertKey(trx, secrets);
    });
    return new ImpersonationKeyRing(knex, secrets, logger, await load(knex, secrets, undefined, undefined));
  }

  /** The key new tokens are signed with, re-read first when the keys are older than KEY_SET_MAX_AGE_MS. */
  async signingKey(): Promise<SigningKey> {
    if (this.#stale()) await this.reload().catch(() => undefined);
    return this.#signing;
  }

  /** The public keys trusted right now, newest first, as published for applications. */
  jwks(): JSONWebKeySet {
    this.#refreshIfStale();
    return { keys: [...this.#keys.values()].map((jwk) => structuredClone(jwk)) };
  }

  /** The public key for `kid` held right now (the same object until the key is retired). */
  current(kid: string): JWK | undefined {
    this.#refreshIfStale();
    return this.#keys.get(kid);
  }

  /**
   * The public key for `kid`, as a token verifier's key source: a kid not held here waits for the ring to
   * re-read the catalog (see reloadForUnknownKid), as another process may have signed with a key added a
   * moment ago. Refuses a kid the catalog does not hold either (401), and answers 503 when the catalog
   * cannot be read.
   */
  async getKey(kid: string): Promise<JWK> {
    if (!this.#keys.has(kid)) {
      try {
        await this.reloadForUnknownKid();
      } catch (error) {
        throw new UnavailableError('the impersonation keys cannot be read right now', 'unavailable', {
          cause: error,
        });
      }
    }
    const jwk = this.#keys.get(kid);
    if (jwk === undefined)
      throw new UnauthenticatedError('token is signed by an unknown key', 'invalid_token');
    return jwk;
  }

  /**
   * Re-reads the keys; resolves once a read that started after this call is over (so it sees every
   * rotation committed before). Calls while a read runs share the next one. Rejects if that read failed.
   */
  reload(): Promise<void> {
    if (this.#running === undefined) {
      const run = this.#read().finally(() => {
        if (this.#running === run) this.#running = undefined;
      });
      this.#running = run;
      return run;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.reload();
      });
    return this.#queued;
  }

  /**
   * For a token naming a kid not held here: waits for a read that starts after this call, at most one
   * such read every UNKNOWN_KID_READ_INTERVAL_MS; the kid is known afterwards if it is in the catalog.
   */
  reloadForUnknownKid(): Promise<void> {
    if (this.#unknownKidRead) return this.#unknownKidRead;
    const wait = this.#lastUnknownKidReadAt + UNKNOWN_KID_READ_INTERVAL_MS - performance.now();
    // Always resolved later than this call (a then callback never runs at once), so the read is recorded
    // below before it forgets itself: one that forgot itself first would be handed out for good.
    const read = new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)).unref()).then(() => {
      this.#lastUnknownKidReadAt = performance.now();
      // From here on a new caller needs a later read: this one may have started before its token's key existed.
      this.#unknownKidRead = undefined;
      return this.reload();
    });
    this.#unknownKidRead = read;
    return read;
  }

  /** Starts a reload in the background, logging a failure (for change notifications). */
  refresh(): void {
    this.reload().catch(() => undefined);
  }

  #stale(): boolean {
    return performance.now() - this.#loadedAt > KEY_SET_MAX_AGE_MS;
  }

  #refreshIfStale(): void {
    if (this.#stale() && this.#running === undefined) this.refresh();
  }

  async #read(): Promise<void> {
    try {
      const loaded = await load(this.#knex, this.#secrets, this.#keys, this.#signing);
      const changed =
        loaded.keys.size !== this.#keys.size || [...loaded.keys.keys()].some((kid) => !this.#keys.has(kid));
      if (changed) {
        this.#logger?.info(
          { impersonationKeys: { signing: loaded.signing.kid, trusted: [...loaded.keys.keys()] } },
          'impersonation keys changed',
        );
      }
      this.#signing = loaded.signing;
      this.#keys = loaded.keys;
      this.#loadedAt = loaded.at;
    } catch (error) {
      this.#logger?.warn({ err: error }, 'reading the impersonation keys failed; keeping the keys held');
      throw error;
    }
  }
}

interface Loaded {
  signing: SigningKey;
  keys: Map<string, JWK>;
  /** performance.now() when the read was sent. */
  at: number;
}

/** Reads the keys; a key already held keeps its object, and the signing key is opened only when new. */
async function load(
  knex: Knex,
  secrets: SecretBox,
  held: Map<string, JWK> | undefined,
  signing: SigningKey | undefined,
): Promise<Loaded> {
  const at = performance.now();
  const rows = await readKeys(knex);
  const newest = rows[0];
  // Only a manual DELETE leaves none; signing goes on with the key held until the next start creates one.
  if (!newest) {
    if (!signing || !held) throw new ConfigError('the catalog holds no impersonation key');
    return { signing, keys: held, at };
  }
  const keys = new Map<string, JWK>();
  for (const row of rows) keys.set(row.kid, held?.get(row.kid) ?? row.public_jwk);
  const next =
    signing?.kid === newest.kid
      ? signing
      : { kid: newest.kid, privateKey: await openPrivateKey(secrets, newest) };
  return { signing: next, keys, at };
}
