import type { RequestHandler } from 'express';
import { RateLimitedError } from '../errors.js';
import type { RateLimitDecision, TenantRateLimiter } from '../limits/tenant-rate-limiter.js';

/**
 * Applies the tenant's request rate (its tier's, or its own override) and reports it on every response:
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time in seconds when the
 * window ends); past the limit, 429 `rate_limited` with `Retry-After`. Use after `tenantContext`.
 */
export function rateLimit(limiter: TenantRateLimiter): RequestHandler {
  return (req, res, next) => {
    const tenant = req.tenantDb;
    if (!tenant) return next(new Error('tenantContext middleware is missing'));
    const apply = (decision: RateLimitDecision) => {
      res.setHeader('X-RateLimit-Limit', String(decision.limit));
      res.setHeader('X-RateLimit-Remaining', String(decision.remaining));
      res.setHeader('X-RateLimit-Reset', String(Math.ceil((Date.now() + decision.resetMs) / 1000)));
      if (decision.allowed) return next();
      next(
        new RateLimitedError(
          `tenant ${tenant.tenantId} is limited to ${decision.limit} requests per minute`,
          Math.max(1, Math.ceil(decision.resetMs / 1000)),
        ),
      );
    };
    // Most requests of a busy tenant come from the instance's reserve: no promise, no Redis.
    const reserved = limiter.fromReserve(tenant.tenantId, tenant.limits.requestsPerMinute);
    if (reserved) return apply(reserved);
    limiter.consume(tenant.tenantId, tenant.limits.requestsPerMinute).then(apply, next);
  };
}
