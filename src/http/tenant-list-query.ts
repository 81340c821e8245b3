import type { Request } from 'express';
import type { TenantStatus } from '../catalog/records.js';
import type { TenantFilter } from '../catalog/tenant-search.js';
import { InvalidInputError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { checkRegion } from '../placement/region.js';

const LISTED_STATUSES: readonly TenantStatus[] = [
  'provisioning',
  'active',
  'suspended',
  'moving',
  'deleting',
];
const TIER = /^[a-z][a-z0-9_-]{0,39}$/;
/** Text PostgreSQL can hold and a person types: no control characters (U+0000 would fail in SQL). */
const SEARCH_TEXT = /^[^\p{Cc}]{1,100}$/u;

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidInputError(`${name} must be given once`, 'invalid_query');
  return value;
}

/** `q`, `tier`, `status`, `server` and `region` of GET /admin/v1/tenants, checked before any SQL. */
export function tenantFilterOf(req: Request): TenantFilter {
  const text = single(req, 'q');
  const tier = single(req, 'tier');
  const status = single(req, 'status');
  const server = single(req, 'server');
  const region = single(req, 'region');
  if (text !== undefined && !SEARCH_TEXT.test(text)) {
    throw new InvalidInputError('q must be 1-100 characters without control characters', 'invalid_query');
  }
  if (tier !== undefined && !TIER.test(tier)) throw new InvalidInputError('invalid tier', 'invalid_query');
  if (status !== undefined && !LISTED_STATUSES.includes(status as TenantStatus)) {
    throw new InvalidInputError(`status must be one of ${LISTED_STATUSES.join(', ')}`, 'invalid_query');
  }
  return {
    ...(text === undefined ? {} : { text }),
    ...(tier === undefined ? {} : { tier }),
    ...(status === undefined ? {} : { status: status as TenantStatus }),
    ...(server === undefined ? {} : { serverId: assertSlug(server, 'server') }),
    ...(region === undefined ? {} : { region: checkRegion(region) as string }),
  };
}
