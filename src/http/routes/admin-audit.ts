import { Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { assertSlug } from '../../ids.js';
import { decodeSequenceCursor, encodeSequenceCursor, parseLimit } from '../pagination.js';

/** `GET /admin/v1/audit?tenant=&cursor=&limit=`: the audit log, newest first. */
export function adminAuditApi(tp: { catalog: Pick<Catalog, 'listAudit'> }): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const limit = parseLimit(req.query.limit, 50, 500);
    const before = decodeSequenceCursor(req.query.cursor);
    const tenantId = req.query.tenant === undefined ? undefined : assertSlug(req.query.tenant, 'tenant');
    const entries = await tp.catalog.listAudit({
      limit: limit + 1,
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(before === undefined ? {} : { before }),
    });
    const page = entries.slice(0, limit);
    const last = page.at(-1);
    res.json({
      data: page.map((entry) => ({
        id: String(entry.id),
        at: entry.at.toISOString(),
        actor: entry.actor,
        action: entry.action,
        tenant_id: entry.tenantId,
        request_id: entry.requestId,
        details: entry.details,
      })),
      next_cursor: entries.length > limit && last ? encodeSequenceCursor(last.id) : null,
    });
  });

  return router;
}
