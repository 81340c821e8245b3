import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthenticatedError } from '../../errors/index.js';
import type { Metrics } from '../../metrics/metrics.js';

/** `GET /metrics` in Prometheus text; with a token configured, only for `Authorization: Bearer <token>`. */
export function metricsEndpoint(metrics: Metrics, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  return async (req, res) => {
    if (expected) {
      const given = Buffer.from(req.get('authorization') ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new UnauthenticatedError('/metrics needs the metrics token', 'metrics_token_required');
      }
    }
    res.setHeader('Content-Type', metrics.contentType);
    res.send(await metrics.text());
  };
}
