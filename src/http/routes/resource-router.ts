import type { Request, Router } from 'express';
import { InvalidInputError, NotFoundError } from '../../errors/index.js';
import { quoteIdent } from '../../ids.js';
import { insertWithinQuota } from '../../limits/quota-guard.js';
import { JSON_READY_TYPES } from '../../routing/json-timestamps.js';
import type { TenantDatabase } from '../../routing/tenant-database.js';
import { decodeCursor, encodeCursor, isUuid, parseLimit } from '../pagination.js';
import { checkBody, type FieldSpecs } from './resource-fields.js';

export interface ResourceSpec {
  /** Table in the tenant schema; a create counts against the tier's quotas on its rows, and storage. */
  table: string;
  fields: FieldSpecs;
}

function db(req: Request): TenantDatabase {
  // tenantContext runs before these routes; its absence is a wiring bug, not a client error.
  if (!req.tenantDb) throw new Error('tenantContext middleware is missing');
  return req.tenantDb;
}

/** A row id from the path; anything that is not a UUID cannot name a row, so it is simply not found. */
function rowId(req: Request): string {
  const id = req.params.id;
  if (!isUuid(id)) throw new NotFoundError('no such row');
  return id;
}

/**
 * CRUD for one resource of the sample application (application-api.ts: deployments and workflows on the
 * sample schema of tenant-migrations/), registered on `router` under `path` (flat, not a nested router:
 * every layer costs on the hot path). Every statement filters on the tenant's id besides the row-level
 * security that enforces it, and another tenant's row id is indistinguishable from a missing one (404).
 */
export function registerResource(router: Router, path: string, spec: ResourceSpec): void {
  const table = quoteIdent(spec.table);
  const names = Object.keys(spec.fields);
  const columns = ['id', 'tenant_id', ...names, 'created_at', 'updated_at'].map(quoteIdent).join(', ');
  const statusFilterable = names.includes('status');
  // Statements are prepared per connection under these names. The set is small and fixed: one per
  // operation and combination of this resource's fields, so the server never accumulates unbounded ones.
  // Rows go straight into JSON answers, so their timestamps arrive as JSON text, not Dates.
  const statement = (operation: string, parts: string[]) => ({
    name: `tp_${spec.table}_${operation}_${parts.filter(Boolean).join('_')}`,
    types: JSON_READY_TYPES,
  });

  router.get(path, async (req, res) => {
    const tenant = db(req);
    const limit = parseLimit(req.query.limit);
    const cursor = decodeCursor(req.query.cursor);
    const values: unknown[] = [tenant.tenantId];
    let where = 'tenant_id = $1';
    if (req.query.status !== undefined) {
      if (
        !statusFilterable ||
        typeof req.query.status !== 'string' ||
        !/^[a-z][a-z0-9_-]{0,39}$/.test(req.query.status)
      ) {
        throw new InvalidInputError('status filter must be a lowercase word', 'invalid_filter');
      }
      values.push(req.query.status);
      where += ` AND status = $${values.length}`;
    }
    if (cursor) {
      values.push(cursor.createdAt, cursor.id);
      where += ` AND (created_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`;
    }
    values.push(limit + 1);
    const result = await tenant.query<Record<string, unknown> & { cursor_at: string; id: string }>(
      `SELECT ${columns}, created_at::text AS cursor_at FROM ${table} WHERE ${where}
       ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
      values,
      statement('list', [req.query.status === undefined ? '' : 'status', cursor ? 'cursor' : '']),
    );
    const rows = result.rows.slice(0, limit);
    const last = rows.at(-1);
    const nextCursor =
      result.rows.length > limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null;
    res.json({
      data: rows.map(({ cursor_at: _omit, ...row }) => row),
      next_cursor: nextCursor,
      tenant_id: tenant.tenantId,
    });
  });

  router.post(path, async (req, res) => {
    const tenant = db(req);
    const values = checkBody(req.body, spec.fields, false);
    const given = Object.keys(values);
    const params = [tenant.tenantId, ...given.map((name) => values[name])];
    const result = await insertWithinQuota(tenant, spec.table, {
      text: `INSERT INTO ${table} (tenant_id${given.map((name) => `, ${quoteIdent(name)}`).join('')})
       VALUES ($1${given.map((_, index) => `, $${index + 2}`).join('')}) RETURNING ${columns}`,
      values: params,
      ...statement('insert', given),
    });
    res.status(201).json(result.rows[0]);
  });

  router.get(`${path}/:id`, async (req, res) => {
    const tenant = db(req);
    const result = await tenant.query(
      `SELECT ${columns} FROM ${table} WHERE tenant_id = $1 AND id = $2`,
      [tenant.tenantId, rowId(req)],
      statement('get', []),
    );
    if (result.rowCount === 0) throw new NotFoundError('no such row');
    res.json(result.rows[0]);
  });

  router.patch(`${path}/:id`, async (req, res) => {
    const tenant = db(req);
    const id = rowId(req);
    const values = checkBody(req.body, spec.fields, true);
    const given = Object.keys(values);
    const assignments = given.map((name, index) => `${quoteIdent(name)} = $${index + 3}`).join(', ');
    const result = await tenant.query(
      `UPDATE ${table} SET ${assignments}, updated_at = clock_timestamp()
       WHERE tenant_id = $1 AND id = $2 RETURNING ${columns}`,
      [tenant.tenantId, id, ...given.map((name) => values[name])],
      statement('update', given),
    );
    if (result.rowCount === 0) throw new NotFoundError('no such row');
    res.json(result.rows[0]);
  });

  router.delete(`${path}/:id`, async (req, res) => {
    const tenant = db(req);
    const result = await tenant.query(
      `DELETE FROM ${table} WHERE tenant_id = $1 AND id = $2`,
      [tenant.tenantId, rowId(req)],
      statement('delete', []),
    );
    if (result.rowCount === 0) throw new NotFoundError('no such row');
    res.status(204).end();
  });
}
