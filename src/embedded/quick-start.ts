import type { DevIssuer } from '../auth/dev-issuer.js';
import type { Actor, Catalog } from '../catalog/catalog.js';
import type { ServerProvisioner } from '../provisioning/server-provisioner.js';
import type { ShardProvisioner } from '../provisioning/shard-provisioner.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import type { TenantRouter } from '../routing/tenant-router.js';

const ACTOR: Actor = { actor: 'quick-start' };
const SERVER_ID = 'local';
const SHARD_IDS = ['shard-1', 'shard-2'];
const DEMO_TENANTS = [
  { id: 'demo-starter', tier: 'starter', name: 'Demo Starter Co' },
  { id: 'demo-pro', tier: 'pro', name: 'Demo Pro Inc' },
  { id: 'demo-enterprise', tier: 'enterprise', name: 'Demo Enterprise Ltd' },
];

export interface QuickStartSummary {
  tenants: Array<{ id: string; tier: string; placement: string; token: string }>;
  adminToken: string;
}

/**
 * The quick start's fleet: the embedded server, two shards and one demo tenant per tier with a few rows.
 * Each step is skipped when already done, so a restart reuses `.data/` as it is.
 */
export async function seedQuickStart(
  tp: {
    catalog: Catalog;
    servers: ServerProvisioner;
    shards: ShardProvisioner;
    tenants: TenantProvisioner;
    router: TenantRouter;
    devIssuer: DevIssuer | undefined;
  },
  embeddedAdminUrl: string,
): Promise<QuickStartSummary> {
  const { catalog, devIssuer, router } = tp;
  if (!devIssuer) throw new Error('the quick start needs the development issuer');
  if (!(await catalog.getServer(SERVER_ID))) {
    await tp.servers.add({ id: SERVER_ID, adminUrl: embeddedAdminUrl, maxConnections: 60 }, ACTOR);
  }
  for (const shardId of SHARD_IDS) {
    const shard = await catalog.getDatabase(shardId);
    if (!shard || shard.status === 'creating')
      await tp.shards.add({ id: shardId, serverId: SERVER_ID }, ACTOR);
  }
  const tenants: QuickStartSummary['tenants'] = [];
  for (const demo of DEMO_TENANTS) {
    const existing = await catalog.getTenant(demo.id);
    if (!existing || existing.status === 'provisioning') {
      await tp.tenants.create(demo, ACTOR);
      const db = await router.forTenant(demo.id);
      await db.transaction(async (trx) => {
        for (const [project, status] of [
          ['website', 'ready'],
          ['api', 'building'],
          ['docs', 'failed'],
        ]) {
          await trx.knex('deployments').insert({
            tenant_id: demo.id,
            project_name: `${demo.id}-${project}`,
            status,
            url: `https://${project}.${demo.id}.example.com`,
          });
        }
        await trx.knex('workflows').insert({
          tenant_id: demo.id,
          name: 'nightly-build',
          status: 'active',
          config: JSON.stringify({ schedule: '0 3 * * *' }),
        });
      });
    }
    const route = await catalog.tenantRoute(demo.id);
    tenants.push({
      id: demo.id,
      tier: demo.tier,
      placement: route?.databaseId ?? 'none',
      token: await devIssuer.mint({ tenantId: demo.id, expiresInSeconds: 86400 }),
    });
  }
  return { tenants, adminToken: await devIssuer.mint({ admin: true, expiresInSeconds: 86400 }) };
}

/** The console URL that signs in with `adminToken` directly (development only: it is printed, never logged). */
export function consoleLink(baseUrl: string, adminToken: string): string {
  return `${baseUrl}/console/#token=${encodeURIComponent(adminToken)}`;
}

/** The text `npm start` prints: where the API is, a token per tenant and commands to try. */
export function printQuickStart(summary: QuickStartSummary, baseUrl: string): string {
  const lines = [
    '',
    `tenantplane quick start is running at ${baseUrl}`,
    '(embedded PostgreSQL under .data/; Ctrl-C stops it, the next start reuses it)',
    '',
  ];
  for (const tenant of summary.tenants) {
    lines.push(`${tenant.id} (${tenant.tier}, on ${tenant.placement})`);
    lines.push(`  export TOKEN_${tenant.id.replaceAll('-', '_').toUpperCase()}=${tenant.token}`);
  }
  lines.push(`admin`, `  export TOKEN_ADMIN=${summary.adminToken}`, '');
  // The token rides in the fragment, which the browser never sends; the console moves it to the tab's
  // session storage and erases it from the address bar on load.
  lines.push(
    'Operator console (signs in as admin):',
    `  ${consoleLink(baseUrl, summary.adminToken)}`,
    '',
    'Try:',
  );
  const pro = 'TOKEN_DEMO_PRO';
  lines.push(
    `  curl -s -H "Authorization: Bearer $${pro}" ${baseUrl}/api/v1/deployments`,
    `  curl -s -H "Authorization: Bearer $${pro}" -H 'Content-Type: application/json' \\`,
    `       -d '{"project_name":"shop","status":"ready"}' ${baseUrl}/api/v1/deployments`,
    `  curl -s -H "Authorization: Bearer $TOKEN_DEMO_ENTERPRISE" ${baseUrl}/api/v1/workflows`,
    `  curl -s -H "Authorization: Bearer $TOKEN_ADMIN" ${baseUrl}/admin/v1/tenants`,
    '',
    'More tokens: npx tenantctl token --tenant demo-starter   (or --admin)',
    '',
  );
  return lines.join('\n');
}
