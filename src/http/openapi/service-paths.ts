import { jsonResponse, type OpenApiObject } from './openapi-helpers.js';

/** Probes, metrics, the development JWKS and this document: no bearer token needed. */
export const servicePaths: Record<string, OpenApiObject> = {
  '/health': {
    get: {
      operationId: 'getHealth',
      tags: ['service'],
      summary: 'The process is up (liveness)',
      security: [],
      responses: { '200': jsonResponse('up', 'Health') },
    },
  },
  '/ready': {
    get: {
      operationId: 'getReady',
      tags: ['service'],
      summary:
        'The control database answers (readiness); Redis or the catalog change channel down only degrades',
      security: [],
      responses: {
        '200': jsonResponse(
          'ready, or degraded (serving with a per-process rate limit, or re-reading the catalog every second while its change channel is not known to be alive)',
          'Readiness',
        ),
        '503': jsonResponse('not ready, or shutting down: send traffic elsewhere', 'Readiness'),
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'getMetrics',
      tags: ['service'],
      summary: 'Prometheus metrics',
      security: [{}, { metricsToken: [] }],
      responses: {
        '200': {
          description: 'Prometheus text exposition format',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
        '401': jsonResponse('METRICS_TOKEN is set and the request does not carry it', 'Error'),
      },
    },
  },
  '/.well-known/jwks.json': {
    get: {
      operationId: 'getDevelopmentJwks',
      tags: ['service'],
      summary: "The development issuer's public keys (only without AUTH_*)",
      security: [],
      responses: {
        '200': jsonResponse('JSON Web Key Set', 'Jwks'),
        '404': jsonResponse('not served: AUTH_* is set, so there is no development issuer', 'Error'),
      },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'getOpenApiDocument',
      tags: ['service'],
      summary: 'This document',
      security: [],
      responses: {
        '200': {
          description: 'OpenAPI 3.1 document',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  },
};
