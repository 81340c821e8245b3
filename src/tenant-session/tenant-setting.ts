import pg from 'pg';
import { assertSlug } from '../ids.js';

/**
 * The setting every tenant table's row-level security policy reads (tenant-migrations/0002). Sessions act
 * as a tenant only through this module: bound at connect (tenant-binding.ts), for one transaction
 * (tenant-transaction.ts) or for one statement (tenant-scoped-query.ts).
 */
export const TENANT_SETTING = 'tenantplane.tenant_id';

/** Sets the tenant for the current transaction only (`is_local`); its one parameter is the tenant id. */
export const SET_TENANT_SQL = `SELECT set_config('${TENANT_SETTING}', $1, true)`;

/**
 * BEGIN and the tenant for that transaction in one simple-protocol message (one round trip). The simple
 * protocol binds no parameters: the tenant id is a validated slug, quoted as a literal. A BEGIN in a
 * multi-statement message keeps its transaction open after the message.
 */
export function beginAsTenantStatement(tenantId: string): string {
  return `BEGIN; SELECT set_config('${TENANT_SETTING}', ${pg.escapeLiteral(assertSlug(tenantId))}, true)`;
}
