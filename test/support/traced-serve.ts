import http from 'node:http';
import type { Logger } from '../../src/logging/logger.js';
import { type Answer, type ChildService, startTenantctl } from './child-service.js';
import { addManagedServer } from './managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './test-plane.js';

/** OTLP's SpanKind values, as a receiver decodes them (see ReceivedSpan). */
export const SERVER_KIND = 2;
export const CLIENT_KIND = 3;
export const CONSUMER_KIND = 5;

/** The tenant every traced plane has, on a shard whose database name says `shard_traced`. */
export const TRACED_TENANT = 'traced-co';

export interface TracedPlane {
  plane: TestPlane;
  /** A token of TRACED_TENANT. */
  tenantToken: string;
  adminToken: string;
}

/**
 * A test plane with tenant `traced-co` (tier pro) on shard `shard-traced`, on a server registered, as in
 * production, through an admin role without superuser (as managed PostgreSQL gives).
 */
export async function createTracedPlane(logger?: Logger): Promise<TracedPlane> {
  const plane = await createTestPlane(logger ? { logger } : {});
  await addManagedServer(plane, 'pg-main');
  await plane.tp.shards.add({ id: 'shard-traced', serverId: 'pg-main' }, TEST_ACTOR);
  await plane.tp.tenants.create({ id: TRACED_TENANT, tier: 'pro' }, TEST_ACTOR);
  return {
    plane,
    tenantToken: await plane.mint({ tenantId: TRACED_TENANT }),
    adminToken: await plane.mint({ admin: true }),
  };
}

/**
 * Environment for a `tenantctl` child of the plane that exports its spans to `endpoint`, in batches every
 * 100 ms (rather than 5 s), so that a test sees them, or the exporter tries, soon.
 */
export function tracedEnv(
  plane: TestPlane,
  endpoint: string,
  serviceName: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return plane.cliEnv({
    LOG_LEVEL: 'debug',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_SERVICE_NAME: serviceName,
    ...extra,
  });
}

/** `tenantctl serve` on a port of its own, exporting its spans to `endpoint` (see tracedEnv). */
export function startTracedServe(
  plane: TestPlane,
  endpoint: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<ChildService> {
  return startTenantctl(
    ['serve'],
    { ...tracedEnv(plane, endpoint, 'tenantplane-serve', extra), PORT: '0' },
    'tenantplane listening',
  );
}

/**
 * Sends SIGTERM and answers the exit code, or `'still running'` if the process has not exited within
 * `deadlineMs` (then it is killed): a hang detector, not a measure of how fast it stops.
 */
export async function terminate(service: ChildService, deadlineMs = 20000): Promise<number | null | string> {
  service.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('still running'), deadlineMs);
  });
  const outcome = await Promise.race([service.exited, late]);
  clearTimeout(timer);
  if (outcome === 'still running') {
    service.child.kill('SIGKILL');
    await service.exited;
  }
  return outcome;
}

/** A GET with a W3C traceparent, as a caller that is itself traced sends it, on a connection of its own. */
export function tracedGet(base: string, path: string, token: string, traceparent: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${base}${path}`,
      { agent: false, headers: { authorization: `Bearer ${token}`, traceparent } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
  });
}
