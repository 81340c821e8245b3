import { randomBytes } from 'node:crypto';
import type { Tenantplane } from '../../src/tenantplane.js';
import { TEST_POSTGRES_URL } from '../setup/hooks.js';
import { adminQuery, TEST_ACTOR, type TestPlane } from './test-plane.js';

/**
 * Creates, on the test PostgreSQL, an admin role like managed PostgreSQL's (RDS, Cloud SQL, Azure): LOGIN,
 * CREATEDB, CREATEROLE and pg_read_all_stats, no superuser and no BYPASSRLS, so row-level security binds it
 * and the superuser-only settings are refused to it. Its name carries the plane's prefix, so the plane's
 * close() drops it; returns its URL.
 */
export async function createManagedAdmin(prefix: string, name = 'managed_admin'): Promise<string> {
  const role = `${prefix}_${name}`;
  const password = randomBytes(12).toString('hex');
  await adminQuery(
    'postgres',
    `CREATE ROLE "${role}" LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '${password}';
     GRANT pg_read_all_stats TO "${role}"`,
  );
  const url = new URL(TEST_POSTGRES_URL);
  url.username = role;
  url.password = password;
  return url.toString();
}

/** Registers the test PostgreSQL once more, through a managed-style admin role (see createManagedAdmin). */
export async function addManagedServer(
  plane: TestPlane<Tenantplane>,
  id = 'pg-managed',
  maxConnections = 40,
): Promise<string> {
  const adminUrl = await createManagedAdmin(plane.prefix, `admin_${id.replaceAll('-', '_')}`);
  await plane.tp.servers.add({ id, adminUrl, maxConnections }, TEST_ACTOR);
  return adminUrl;
}

/** A way of registering a server: the suites that provision, back up, restore and move run under each. */
export interface AdminKind {
  name: string;
  superuser: boolean;
  /** Registers the test PostgreSQL as server `id`; returns the admin URL it was registered with. */
  register(plane: TestPlane<Tenantplane>, id?: string, maxConnections?: number): Promise<string>;
}

export const ADMIN_KINDS: AdminKind[] = [
  {
    name: 'superuser admin',
    superuser: true,
    async register(plane, id = 'pg-main', maxConnections = 40) {
      await plane.addServer(id, maxConnections);
      return TEST_POSTGRES_URL;
    },
  },
  {
    name: 'managed-PostgreSQL admin (no superuser)',
    superuser: false,
    register: (plane, id = 'pg-main', maxConnections = 40) => addManagedServer(plane, id, maxConnections),
  },
];
