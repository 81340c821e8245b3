/**
 * bench:fleet's control database on a PostgreSQL cluster of its own, as in production (or, with
 * `--control-on-tenant-server`, on the tenant server).
 */

import { createTestCluster, type TestCluster } from '../../test/support/test-cluster.js';
import { log, warn } from '../lib/log.js';
import type { ControlServer } from '../router/fixtures.js';

/** The control database's own cluster, from the moment its creation starts (cleanup drops it). */
export interface ControlCluster {
  creating?: Promise<TestCluster>;
}

/**
 * Creates the cluster and says where the control database is; undefined: on the tenant server. The
 * cluster's figures go into `environment`.
 */
export async function setUpControl(
  onTenantServer: boolean,
  control: ControlCluster,
  environment: Record<string, unknown>,
): Promise<ControlServer | undefined> {
  if (onTenantServer) {
    log('control database: on the tenant server (--control-on-tenant-server)');
    return undefined;
  }
  control.creating = createTestCluster();
  const cluster = await control.creating.catch((error: Error) => {
    throw new Error(
      `could not create a PostgreSQL cluster for the control database (pg_createcluster, as root): ` +
        `${error.message}; --control-on-tenant-server puts it on the tenant server instead`,
    );
  });
  const clusterMax = (await cluster.query<{ max_connections: string }>('postgres', 'SHOW max_connections'))
    .rows[0]!.max_connections;
  log(
    `control database: on a PostgreSQL ${cluster.version} cluster of its own (${cluster.name}, port ` +
      `${cluster.port}, max_connections ${clusterMax}), as in production; dropped at the end`,
  );
  environment.controlCluster = {
    version: cluster.version,
    port: cluster.port,
    maxConnections: Number(clusterMax),
  };
  return {
    url: (database) => cluster.superuserUrl(database),
    query: (database, text) => cluster.query(database, text),
  };
}

/** Drops the cluster (waiting for it when Ctrl-C came while it was being created), or says it is kept. */
export async function dropControl(control: ControlCluster, keep: boolean): Promise<void> {
  const cluster = await control.creating?.catch(() => undefined);
  if (!cluster) return;
  if (keep) {
    warn(
      `kept (--keep): the control database's cluster ${cluster.version}/${cluster.name} on port ` +
        `${cluster.port} (pg_dropcluster --stop ${cluster.version} ${cluster.name})`,
    );
    return;
  }
  await cluster
    .drop()
    .catch((error) => warn(`cleanup: dropping the control cluster ${cluster.name} failed: ${error}`));
}
