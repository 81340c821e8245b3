import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { currentContext } from '../logging/request-context.js';
import { TENANT_ID, TENANT_TIER, tracer } from './spans.js';

/** Probes and scrapes: every few seconds from every load balancer and Prometheus, and nothing to see. */
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * A server span for each request (but probes and metric scrapes), continuing the caller's trace when it sent a W3C `traceparent`, and the
 * active span for everything the request does. Named and labelled like the request metrics, by route
 * pattern (never the raw path), with the tenant and its tier once the router found them. Mount it right
 * after `trackRequests`, and only while tracing runs (see tracingOn): off, it is not in the chain at all.
 */
export function traceRequests(): RequestHandler {
  return (req, res, next) => {
    if (UNTRACED_PATHS.has(req.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.path },
      },
      parent,
    );
    const request = currentContext();
    // 'close' comes after 'finish', and alone when the client went away first.
    res.once('close', () => {
      const pattern: unknown = req.route?.path;
      const route =
        typeof pattern === 'string' ? `${request?.mountPath || req.baseUrl}${pattern}` : undefined;
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${req.method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      const tenant = req.tenantDb;
      if (tenant) span.setAttributes({ [TENANT_ID]: tenant.tenantId, [TENANT_TIER]: tenant.tier });
      else if (request?.tenantId) span.setAttribute(TENANT_ID, request.tenantId);
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
