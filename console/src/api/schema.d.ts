// Generated from the served OpenAPI document by `npx tsx console/scripts/generate-api-types.ts`
// (console/scripts/generate-api-types.ts); do not edit. A test fails when it is out of date.

export interface paths {
  '/health': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Health'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/ready': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Readiness'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Readiness'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/metrics': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'text/plain': string } };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/.well-known/jwks.json': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Jwks'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/openapi.json': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': Record<string, unknown> };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/v1/tenant': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: { 'X-Tenant-ID'?: string }; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['OwnTenant'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/v1/deployments': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: { status?: string; limit?: number; cursor?: string };
        header?: { 'X-Tenant-ID'?: string };
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['DeploymentPage'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post: {
      parameters: { query?: never; header?: { 'X-Tenant-ID'?: string }; path?: never; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['DeploymentCreate'] } };
      responses: {
        201: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Deployment'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/v1/deployments/{id}': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Deployment'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        204: { headers: { [name: string]: unknown }; content?: never };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    options?: never;
    head?: never;
    patch: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody: { content: { 'application/json': components['schemas']['DeploymentUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Deployment'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    trace?: never;
  };
  '/api/v1/workflows': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: { status?: string; limit?: number; cursor?: string };
        header?: { 'X-Tenant-ID'?: string };
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['WorkflowPage'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post: {
      parameters: { query?: never; header?: { 'X-Tenant-ID'?: string }; path?: never; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['WorkflowCreate'] } };
      responses: {
        201: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Workflow'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/v1/workflows/{id}': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Workflow'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        204: { headers: { [name: string]: unknown }; content?: never };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    options?: never;
    head?: never;
    patch: {
      parameters: {
        query?: never;
        header?: { 'X-Tenant-ID'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody: { content: { 'application/json': components['schemas']['WorkflowUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Workflow'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        429: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    trace?: never;
  };
  '/admin/v1/tenants': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: {
          q?: string;
          tier?: string;
          status?: 'provisioning' | 'active' | 'suspended' | 'moving' | 'deleting';
          server?: string;
          region?: string;
          limit?: number;
          cursor?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TenantPage'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['TenantCreate'] } };
      responses: {
        201: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Tenant'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tiers': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TierList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tiers/{id}/quotas': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get?: never;
    put: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['TierQuotasUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Tier'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TenantDetail'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete: {
      parameters: {
        query?: { destroy_backups?: boolean };
        header?: never;
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Tenant'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    options?: never;
    head?: never;
    patch: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['TenantUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TenantDetail'] };
        };
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    trace?: never;
  };
  '/admin/v1/tenants/{id}/exports': {
    parameters: {
      query?: never;
      header?: { 'Idempotency-Key'?: string };
      path: { id: string };
      cookie?: never;
    };
    get?: never;
    put?: never;
    post: {
      parameters: {
        query?: never;
        header?: { 'Idempotency-Key'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['ExportAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/backups': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['BackupList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post: {
      parameters: {
        query?: never;
        header?: { 'Idempotency-Key'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody?: { content: { 'application/json': components['schemas']['BackupRequest'] } };
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['BackupAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/restores': {
    parameters: {
      query?: never;
      header?: { 'Idempotency-Key'?: string };
      path: { id: string };
      cookie?: never;
    };
    get?: never;
    put?: never;
    post: {
      parameters: {
        query?: never;
        header?: { 'Idempotency-Key'?: string };
        path: { id: string };
        cookie?: never;
      };
      requestBody: { content: { 'application/json': components['schemas']['RestoreRequest'] } };
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/servers/{id}/undrain': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Server'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/jobs/{job_id}': {
    parameters: { query?: never; header?: never; path: { job_id: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { job_id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Job'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/jobs/{job_id}/events': {
    parameters: { query?: never; header?: never; path: { job_id: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { job_id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'text/event-stream': string } };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/migrations': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['MigrationStatusList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/migrations/runs': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: { content: { 'application/json': components['schemas']['MigrationRunRequest'] } };
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/audit': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: { tenant?: string; limit?: number; cursor?: string };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['AuditPage'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tiers/{tier}': {
    parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Tier'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch: {
      parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['TierFeaturesUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Tier'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    trace?: never;
  };
  '/admin/v1/tenants/{id}/moves': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['MoveRequest'] } };
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/servers/{id}/drain': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody?: { content: { 'application/json': components['schemas']['DrainRequest'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['DrainPlan'] };
        };
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/rebalance': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: { content: { 'application/json': components['schemas']['RebalanceRequest'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['RebalancePlan'] };
        };
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/backups/{backup_id}/drills': {
    parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        202: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['DrillAccepted'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/backup-schedules': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['BackupScheduleList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/backup-schedules/{tier}': {
    parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
    get?: never;
    put: {
      parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['BackupScheduleUpdate'] } };
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['BackupSchedule'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    post?: never;
    delete: {
      parameters: { query?: never; header?: never; path: { tier: string }; cookie?: never };
      requestBody?: never;
      responses: {
        204: { headers: { [name: string]: unknown }; content?: never };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/backups/{backup_id}/hold': {
    parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Backup'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/backups/{backup_id}/release': {
    parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string; backup_id: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Backup'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        409: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/me': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Me'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/impersonations': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
      requestBody: { content: { 'application/json': components['schemas']['ImpersonationRequest'] } };
      responses: {
        201: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Impersonation'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/.well-known/tenantplane-impersonation-jwks.json': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Jwks'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/tenants/{id}/usage': {
    parameters: { query?: never; header?: never; path: { id: string }; cookie?: never };
    get: {
      parameters: {
        query?: { from?: string; to?: string; granularity?: 'hour' | 'day' };
        header?: never;
        path: { id: string };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TenantUsageReport'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        404: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/usage.csv': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: { from?: string; to?: string; granularity?: 'hour' | 'day' };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'text/csv': string } };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/usage/tiers': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: { from?: string; to?: string }; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['TierUsageReport'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/fleet/backups-overdue': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['OverdueBackupList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/fleet/servers': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['FleetServerList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/fleet/shards': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['FleetShardList'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/v1/jobs': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get: {
      parameters: {
        query?: {
          queue?: string;
          state?: 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';
          limit?: number;
          cursor?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        200: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['JobPage'] };
        };
        400: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        401: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        403: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
        503: {
          headers: { [name: string]: unknown };
          content: { 'application/json': components['schemas']['Error'] };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}

export interface components {
  schemas: {
    Error: { error: { code: string; message: string } };
    Health: { status: 'ok' };
    Readiness: {
      status: 'ready' | 'degraded' | 'not_ready' | 'shutting_down';
      checks: { [key: string]: string | undefined };
    };
    Jwks: { keys: Record<string, unknown>[] };
    Deployment: {
      id: string;
      tenant_id: string;
      project_name: string;
      status: string;
      url: string | null;
      created_at: string;
      updated_at: string;
    };
    DeploymentCreate: { project_name: string; status: string; url?: string | null };
    DeploymentUpdate: { project_name?: string; status?: string; url?: string | null };
    DeploymentPage: {
      data: components['schemas']['Deployment'][];
      next_cursor: string | null;
      tenant_id: string;
    };
    Workflow: {
      id: string;
      tenant_id: string;
      name: string;
      status: string;
      config: Record<string, unknown> | null;
      created_at: string;
      updated_at: string;
    };
    WorkflowCreate: { name: string; status: string; config?: Record<string, unknown> | null };
    WorkflowUpdate: { name?: string; status?: string; config?: Record<string, unknown> | null };
    WorkflowPage: {
      data: components['schemas']['Workflow'][];
      next_cursor: string | null;
      tenant_id: string;
    };
    Tenant: {
      id: string;
      name: string;
      tier: string;
      status: 'provisioning' | 'active' | 'suspended' | 'moving' | 'deleting' | 'deleted';
      region?: string | null;
      feature_overrides?: components['schemas']['FeatureFlags'];
      placement: null | {
        kind: 'shard' | 'dedicated';
        database_id: string;
        server_id: string;
        database_name: string;
      };
      created_at: string;
      updated_at: string;
      backup_keys_destroyed?: boolean;
    };
    TenantDetail: components['schemas']['Tenant'] & {
      features?: components['schemas']['FeatureFlags'];
      limits?: components['schemas']['TenantLimits'];
      usage?: components['schemas']['TenantUsage'];
    };
    TenantLimits: {
      requests_per_minute: number | null;
      users?: number | null;
      deployments?: number | null;
      workflows?: number | null;
      storage_bytes?: number | null;
      [key: string]: number | null | undefined;
    };
    TenantUsage: {
      users?: number;
      deployments?: number;
      workflows?: number;
      storage_bytes?: number;
      [key: string]: number | undefined;
    } | null;
    TenantCreate: { id: string; name?: string; tier: string; region?: string | null };
    Server: {
      id: string;
      host: string;
      port: number;
      region: string | null;
      draining: boolean;
      max_connections: number;
      created_at: string;
    };
    TenantUpdate: {
      status?: 'active' | 'suspended';
      tier?: string;
      name?: string;
      requests_per_minute?: number | null;
      features?: components['schemas']['FeatureFlagsUpdate'];
    };
    TenantPage: { data: components['schemas']['Tenant'][]; next_cursor: string | null };
    TierQuota: { name: string; counts: string; max: number | null };
    Tier: {
      id: string;
      placement: 'shard' | 'dedicated';
      pool_size: number;
      requests_per_minute: number;
      quotas: components['schemas']['TierQuota'][];
      features: components['schemas']['FeatureFlags'];
    };
    TierList: { data: components['schemas']['Tier'][] };
    TierQuotasUpdate: { quotas: { name: string; counts?: string; max: number | null }[] };
    JobAccepted: { job_id: string };
    Job: {
      id: string;
      state: 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'unknown';
      progress: Record<string, unknown>;
      result: Record<string, unknown>;
      error: string | null;
      error_code?: string | null;
      last_drill?: components['schemas']['LastDrill'];
    };
    MigrationStatus: {
      databaseId: string;
      kind: 'shard' | 'dedicated';
      serverId?: string;
      databaseName?: string;
      reachable: boolean;
      error?: string;
      applied: string[];
      pending: string[];
      unknown: string[];
      missing: string[];
      drift: boolean;
      lastRun?: { runId?: string; status?: string; error?: string | null; finishedAt?: string | null };
    };
    MigrationStatusList: { data: components['schemas']['MigrationStatus'][] };
    MigrationRunRequest: {
      direction?: 'up' | 'down';
      to?: string;
      concurrency?: number;
      canary?: number;
      target?: string;
      dry_run?: boolean;
    };
    AuditEntry: {
      id: string;
      at: string;
      actor: string;
      action: string;
      tenant_id: string | null;
      request_id: string | null;
      details: Record<string, unknown>;
    };
    AuditPage: { data: components['schemas']['AuditEntry'][]; next_cursor: string | null };
    BackupRequest: { compress?: boolean };
    ExportAccepted: components['schemas']['JobAccepted'] & { export_id: string };
    BackupAccepted: components['schemas']['JobAccepted'] & { backup_id: string };
    RestoreRequest: { backup_id: string; into?: string; tier?: string };
    Backup: {
      id: string;
      tenant_id: string;
      state: 'pending' | 'complete' | 'failed' | 'deleting';
      object_key?: string | null;
      size_bytes?: number | null;
      sha256?: string | null;
      schema_version?: string | null;
      key_id?: string | null;
      row_counts?: { [key: string]: number | undefined } | null;
      created_at: string;
      completed_at?: string | null;
      error?: string | null;
      held?: boolean;
    };
    BackupList: { data: components['schemas']['Backup'][] };
    MoveRequest: { to: string; server?: string };
    DrainRequest: { dry_run?: boolean; concurrency?: number };
    DrainPlan: {
      server_id: string;
      moves: { tenant_id: string; from: string; to: string; server?: string }[];
      stuck: { tenant_id: string; error: string }[];
    };
    RebalanceRequest: { dry_run?: boolean; max_moves?: number; min_gain_bytes?: number };
    RebalancePlan: {
      moves: { tenant_id: string; from: string; to: string; bytes: number }[];
      min_gain_bytes: number;
    };
    FeatureFlags: { [key: string]: boolean | undefined };
    FeatureFlagsUpdate: { [key: string]: boolean | null | undefined };
    TierFeaturesUpdate: { features: components['schemas']['FeatureFlagsUpdate'] };
    OwnTenant: {
      id: string;
      name: string;
      tier: string;
      status: 'active';
      features: components['schemas']['FeatureFlags'];
      limits: components['schemas']['TenantLimits'];
      usage: components['schemas']['TenantUsage'];
    };
    DrillAccepted: components['schemas']['JobAccepted'] & { backup_id: string };
    LastDrill: {
      id: string;
      passed: boolean | null;
      finished_at: string | null;
      duration_ms: number | null;
      method: 'counts_and_digests' | 'counts' | null;
      error: string | null;
    } | null;
    BackupScheduleUpdate: {
      every: string;
      keep: number;
      keep_days?: number | null;
      drill_every?: string | null;
    };
    BackupSchedule: {
      tier: string;
      every: string;
      every_seconds: number;
      keep: number;
      keep_days: number | null;
      drill_every: string | null;
      drill_every_seconds: number | null;
      updated_at?: string;
    };
    BackupScheduleList: { data: components['schemas']['BackupSchedule'][] };
    Me: {
      subject: string | null;
      scopes: ('tenantplane:admin' | 'tenantplane:operator' | 'tenantplane:support' | 'tenantplane:viewer')[];
      can: { write: boolean; delete_tenants: boolean; restore_in_place: boolean; impersonate: boolean };
    };
    ImpersonationRequest: { reason: string };
    Impersonation: { token: string; expires_at: string };
    UsagePeriod: {
      period_start: string;
      requests: number;
      errors: number;
      errors_4xx: number;
      errors_5xx: number;
      db_time_ms: number;
      bytes_in: number;
      bytes_out: number;
      storage_bytes: number | null;
      rows: number | null;
    };
    TenantUsageReport: {
      tenant_id: string;
      from: string;
      to: string;
      granularity: 'hour' | 'day';
      data: components['schemas']['UsagePeriod'][];
    };
    TierHourUsage: {
      tier: string;
      period_start: string;
      requests: number;
      errors_4xx: number;
      errors_5xx: number;
    };
    TierUsageReport: { from: string; to: string; data: components['schemas']['TierHourUsage'][] };
    OverdueBackup: {
      tenant_id: string;
      tier: string;
      last_backup_at: string | null;
      age_seconds: number | null;
      every_seconds: number;
    };
    OverdueBackupList: { data: components['schemas']['OverdueBackup'][] };
    FleetServer: {
      id: string;
      region: string | null;
      draining: boolean;
      max_connections: number;
      router_budget: number;
      router_budget_assigned: number;
      connections_in_use: number;
      connections_idle: number;
      instances: {
        instance_id: string;
        kind: 'serve' | 'worker';
        host: string;
        may_hold: number;
        in_use: number;
        idle: number;
      }[];
      shards: number;
      dedicated_databases: number;
      tenants: number;
    };
    FleetServerList: { data: components['schemas']['FleetServer'][] };
    FleetShard: {
      id: string;
      server_id: string;
      status: 'creating' | 'ready' | 'dropping';
      tenants: number;
      bytes: number;
    };
    FleetShardList: { data: components['schemas']['FleetShard'][] };
    ListedJob: {
      id: string;
      queue: string;
      state: 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'unknown';
      progress: Record<string, unknown>;
      tenant_id: string | null;
      created_at: string;
      finished_at: string | null;
      error: string | null;
      error_code: string | null;
    };
    JobPage: { data: components['schemas']['ListedJob'][]; next_cursor: string | null };
  };
}
