import { Router } from 'express';
import { adminScopesOf, permissionsOf } from '../../auth/admin-scopes.js';
import type { ImpersonationIssuer } from '../../auth/impersonation-issuer.js';
import type { Catalog } from '../../catalog/catalog.js';
import { InvalidFieldError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { actorOf } from '../request-actor.js';
import { bodyFields } from '../request-fields.js';

/** The audit action of minting an impersonation token. */
export const IMPERSONATION_ACTION = 'tenant.impersonation';
/** A reason is a sentence for the audit log, not a document. */
const MAX_REASON_LENGTH = 500;

function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON_LENGTH) {
    throw new InvalidFieldError(
      `reason must be a non-empty string of at most ${MAX_REASON_LENGTH} characters`,
      {
        field: 'reason',
      },
    );
  }
  return reason.trim();
}

/**
 * `GET /admin/v1/me` (who the caller is and what its scopes let it do) and `POST
 * /admin/v1/tenants/:id/impersonations` `{reason}`: a read-only token for the tenant, audited with the
 * reason. Which scope each needs is decided by admin-scopes.ts, like every admin route.
 */
export function adminImpersonationsApi(deps: {
  catalog: Pick<Catalog, 'requireTenant' | 'audit'>;
  impersonation: ImpersonationIssuer;
}): Router {
  const router = Router();

  router.get('/me', (req, res) => {
    const principal = req.principal!;
    res.json({
      subject: principal.subject ?? null,
      scopes: adminScopesOf(principal.scopes),
      can: permissionsOf(principal.scopes),
    });
  });

  router.post('/tenants/:id/impersonations', async (req, res) => {
    const reason = checkReason(bodyFields(req, ['reason']).reason);
    const tenant = await deps.catalog.requireTenant(assertSlug(req.params.id));
    const actor = actorOf(req);
    const operator = req.principal!.subject ?? 'admin';
    const grant = await deps.impersonation.mint(tenant.id, operator);
    // Audited before the token is handed out: no impersonation without its reason on record.
    await deps.catalog.audit(actor, IMPERSONATION_ACTION, tenant.id, {
      reason,
      jti: grant.jti,
      expires_at: grant.expiresAt.toISOString(),
      issuer: deps.impersonation.issuer,
    });
    res.status(201).json({ token: grant.token, expires_at: grant.expiresAt.toISOString() });
  });

  return router;
}
