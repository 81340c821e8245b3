import type { NextFunction, RequestHandler, Response } from 'express';
import { RateLimitedError } from '../errors/index.js';
import type { RateLimitDecision, TenantRateLimiter } from '../limits/tenant-rate-limiter.js';

/**
 * Applies the tenant's request rate (its tier's, or its own override) and reports it on every response:
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time in seconds when the
 * window ends); past the limit, 429 `rate_limited` with `Retry-After`. Use after `tenantContext`. Without a
 * limiter (RATE_LIMITS=off) requests pass, unlimited and without the headers.
 */
export function rateLimit(limiter: TenantRateLimiter | undefined): RequestHandler {
  if (!limiter) return (_req, _res, next) => next();
  return (req, res, next) => {
    const tenant = req.tenantDb;
    if (!tenant) return next(new Error('tenantContext middleware is missing'));
    // Most requests of a busy tenant come from the instance's reserve: no promise, no Redis, no closure.
    const reserved = limiter.fromReserve(tenant.tenantId, tenant.limits.requestsPerMinute);
    if (reserved) return applyDecision(reserved, tenant.tenantId, res, next);
    limiter
      .consume(tenant.tenantId, tenant.limits.requestsPerMinute)
      .then((decision) => applyDecision(decision, tenant.tenantId, res, next), next);
  };
}

function applyDecision(
  decision: RateLimitDecision,
  tenantId: string,
  res: Response,
  next: NextFunction,
): void {
  res.setHeader('X-RateLimit-Limit', String(decision.limit));
  res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil((Date.now() + decision.resetMs) / 1000)));
  if (decision.allowed) {
    next();
    return;
  }
  next(
    new RateLimitedError(
      `tenant ${tenantId} is limited to ${decision.limit} requests per minute`,
      Math.max(1, Math.ceil(decision.resetMs / 1000)),
    ),
  );
}
