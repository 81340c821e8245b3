/**
 * The admin roles bench:backup and bench:moves compare (`--admin superuser|managed|both`), one plane each: a
 * control database, database-name prefix and data folder of its own, with the local PostgreSQL registered
 * through the superuser URL or through a role like managed PostgreSQL's (LOGIN CREATEDB CREATEROLE
 * NOSUPERUSER NOBYPASSRLS, pg_read_all_stats) that the bench creates. Closing a plane drops everything
 * carrying its prefix, that role included.
 */
import { ADMIN_KINDS } from '../../test/support/managed-admin.js';
import { createTestPlane } from '../../test/support/test-plane.js';
import { cleanUpOnSignal, closeWithin, dropScope, once } from './cleanup.js';
import { warn } from './log.js';
import { fixed } from './tables.js';

export const ADMINS = ['superuser', 'managed'] as const;
export type AdminName = (typeof ADMINS)[number];

/** The managed admin's time over the superuser's, at most this (within 10%). */
export const MANAGED_TARGET = 1.1;

export const ADMIN_HELP = `  --admin A          superuser, managed or both (default both: the two interleaved, with their ratio)`;

export function parseAdmins(value: string): AdminName[] {
  if (value === 'both') return [...ADMINS];
  const admin = ADMINS.find((name) => name === value);
  if (!admin) throw new Error('--admin must be superuser, managed or both');
  return [admin];
}

/** A test plane as createTestPlane makes it. */
export type Plane = Awaited<ReturnType<typeof createTestPlane>>;

export interface AdminPlane {
  admin: AdminName;
  /** The name of the plane's variant (see AdminPlaneSpec.variants); undefined with one plane per admin. */
  variant?: string;
  plane: Plane;
  /** The URL the server was registered with. */
  adminUrl: string;
}

export interface AdminPlaneSpec {
  admins: AdminName[];
  serverId: string;
  maxConnections: number;
  options?: Parameters<typeof createTestPlane>[0];
  env?: Record<string, string>;
  /**
   * Several planes per admin, one per named variant, each with the variant's environment on top of `env`
   * (bench:moves: `{ capture: { MOVE_CUTOVER: 'capture' }, compare: ... }`); default one plane per admin.
   */
  variants?: Record<string, Record<string, string>>;
}

/** How long a plane gets to close (its Tenantplane waits for the jobs it runs) before it is dropped anyway. */
const CLOSE_TIMEOUT_MS = 15000;

/**
 * Opens a plane per admin (and variant), runs `work` with them and drops them all, also when opening or
 * `work` fails, or on SIGINT or SIGTERM; a failure to drop is reported and does not hide the first error.
 */
export async function withAdminPlanes<T>(
  spec: AdminPlaneSpec,
  work: (planes: AdminPlane[]) => Promise<T>,
): Promise<T> {
  const planes: AdminPlane[] = [];
  const cleanup = once(async () => {
    for (const { admin, variant, plane } of planes) {
      await closeWithin(plane.close(), CLOSE_TIMEOUT_MS).catch((error) =>
        warn(`cleanup: closing the ${admin}${variant ? ` ${variant}` : ''} plane failed: ${error}`),
      );
      // Whatever close() did not get to (it timed out, or failed half way).
      await dropScope(plane, warn);
    }
  });
  cleanUpOnSignal('dropping what the bench made', cleanup, true);
  try {
    const variants = Object.entries(spec.variants ?? { '': {} });
    for (const admin of spec.admins) {
      for (const [name, env] of variants) {
        const plane = await createTestPlane(spec.options, { ...spec.env, ...env });
        const entry: AdminPlane = { admin, plane, adminUrl: '', ...(name === '' ? {} : { variant: name }) };
        planes.push(entry);
        const kind = ADMIN_KINDS.find((candidate) => candidate.superuser === (admin === 'superuser'))!;
        entry.adminUrl = await kind.register(plane, spec.serverId, spec.maxConnections);
      }
    }
    return await work(planes);
  } finally {
    await cleanup();
  }
}

/** The items in the order of a round: as given in even rounds, reversed in odd ones, so neither always goes first. */
export function inRoundOrder<T>(items: T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

/** managed / superuser of a figure, NaN unless both ran. */
export function managedRatio(figures: Partial<Record<AdminName, number>>): number {
  const { superuser, managed } = figures;
  return superuser === undefined || managed === undefined ? Number.NaN : managed / superuser;
}

/** "1.04 (target ≤ 1.1)", or "-" when only one admin ran. */
export function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${fixed(ratio, 2)}  (target ≤ ${MANAGED_TARGET})` : '-';
}
