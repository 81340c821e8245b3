import type { Request } from 'express';
import type { Actor } from '../catalog/catalog.js';

/** Who an admin request acts as, for the audit log: the token's subject and the request's id. */
export function actorOf(req: Request): Actor {
  return { actor: `token:${req.principal?.subject ?? 'admin'}`, requestId: req.requestId };
}
