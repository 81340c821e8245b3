/**
 * The hand-written baseline for the router benchmark: the least a service can do to answer
 * `GET /api/v1/deployments` for a JWT-authenticated tenant. It verifies the bearer token with jose against
 * a local key set, reads `tenant_id` from the claims and runs the list query on a plain pg.Pool connected
 * straight to that tenant's database, as the superuser: no catalog, no routing, no row-level security
 * setting, no request context. Whatever tenantplane spends beyond this is its overhead.
 *
 * Configured by environment (the bench sets it):
 *   PORT               port to listen on (127.0.0.1)
 *   BASELINE_JWKS      JSON Web Key Set of the accepted signing keys (the dev issuer's public keys)
 *   BASELINE_ISSUER    expected `iss`
 *   BASELINE_AUDIENCE  expected `aud`
 *   BASELINE_TENANTS   JSON object: tenant id -> { "url": postgres URL of its database, "poolSize": n,
 *                      "setTenant": true|false }; tenants naming the same URL share one pool
 *   BASELINE_TENANTS_FILE  instead of BASELINE_TENANTS: a file holding that object (for maps larger than
 *                      an environment variable may be), read once at start
 *
 * With `"setTenant": true` (a shard reached as the application role, which row-level security applies to)
 * each request runs `BEGIN; SELECT set_config('tenantplane.tenant_id', <tenant>, true)` in one message, then
 * the list query, then COMMIT: the setting lasts for that transaction only, so it is safe behind a pooler in
 * transaction mode. bench:fleet's PgBouncer peer is this server configured that way.
 */
import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import pg from 'pg';

interface TenantTarget {
  url: string;
  poolSize: number;
  /** Set the tenant for each request's transaction (see above); default false. */
  setTenant?: boolean;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

const port = Number(requiredEnv('PORT'));
const issuer = requiredEnv('BASELINE_ISSUER');
const audience = requiredEnv('BASELINE_AUDIENCE');
const keySet = createLocalJWKSet(JSON.parse(requiredEnv('BASELINE_JWKS')) as JSONWebKeySet);
const targets = JSON.parse(
  process.env.BASELINE_TENANTS_FILE
    ? readFileSync(process.env.BASELINE_TENANTS_FILE, 'utf8')
    : requiredEnv('BASELINE_TENANTS'),
) as Record<string, TenantTarget>;

interface TenantPool {
  pool: pg.Pool;
  setTenant: boolean;
}

const poolsByUrl = new Map<string, pg.Pool>();
const poolsByTenant = new Map<string, TenantPool>();
for (const [tenantId, target] of Object.entries(targets)) {
  let pool = poolsByUrl.get(target.url);
  if (!pool) {
    pool = new pg.Pool({ connectionString: target.url, max: target.poolSize });
    pool.on('error', (error) => console.error(`idle connection lost: ${error.message}`));
    poolsByUrl.set(target.url, pool);
  }
  poolsByTenant.set(tenantId, { pool, setTenant: target.setTenant === true });
}

const LIST_DEPLOYMENTS = `SELECT id, tenant_id, project_name, status, url, created_at, updated_at,
  created_at::text AS cursor_at FROM deployments WHERE tenant_id = $1
  ORDER BY created_at DESC, id DESC LIMIT $2`;

type ListRow = Record<string, unknown> & { cursor_at: string; id: string };

/** The list query in a transaction that sets the tenant for itself only (see the top of this file). */
async function listAsTenant(
  pool: pg.Pool,
  tenantId: string,
  limit: number,
): Promise<pg.QueryResult<ListRow>> {
  const client = await pool.connect();
  try {
    await client.query(
      `BEGIN; SELECT set_config('tenantplane.tenant_id', ${pg.escapeLiteral(tenantId)}, true)`,
    );
    const result = await client.query<ListRow>(LIST_DEPLOYMENTS, [tenantId, limit]);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // The transaction's state is unknown: the connection is closed rather than reused.
    client.release(error as Error);
    throw error;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 20;
  const value = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= 100)) throw new HttpError(400, 'invalid_limit');
  return value;
}

async function tenantOf(req: Request): Promise<string> {
  const match = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new HttpError(401, 'missing_token');
  let tenantId: unknown;
  try {
    const { payload } = await jwtVerify(match[1]!, keySet, {
      issuer,
      audience,
      algorithms: ['ES256', 'RS256'],
      requiredClaims: ['exp'],
    });
    tenantId = payload['tenant_id'];
  } catch {
    throw new HttpError(401, 'invalid_token');
  }
  if (typeof tenantId !== 'string') throw new HttpError(403, 'tenant_required');
  return tenantId;
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');

app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});

app.get('/api/v1/deployments', async (req, res) => {
  const tenantId = await tenantOf(req);
  const target = poolsByTenant.get(tenantId);
  if (!target) throw new HttpError(403, 'tenant_unavailable');
  const limit = parseLimit(req.query.limit);
  const result = target.setTenant
    ? await listAsTenant(target.pool, tenantId, limit + 1)
    : await target.pool.query<ListRow>(LIST_DEPLOYMENTS, [tenantId, limit + 1]);
  const rows = result.rows.slice(0, limit);
  const last = rows.at(-1);
  const nextCursor =
    result.rows.length > limit && last
      ? Buffer.from(JSON.stringify([last.cursor_at, last.id])).toString('base64url')
      : null;
  res.json({
    data: rows.map(({ cursor_at: _omit, ...row }) => row),
    next_cursor: nextCursor,
    tenant_id: tenantId,
  });
});

app.use((_req: Request, _res: Response, next: NextFunction) => next(new HttpError(404, 'route_not_found')));
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  if (error instanceof HttpError) {
    res.status(error.status).json({ error: { code: error.code } });
    return;
  }
  console.error(error);
  res.status(500).json({ error: { code: 'internal_error' } });
});

const server = app.listen(port, '127.0.0.1');

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await Promise.all([...poolsByUrl.values()].map((pool) => pool.end()));
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
