import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the request being served: every log line written meanwhile carries its ids. */
export interface RequestContext {
  requestId: string;
  /** Set once the request is authenticated. */
  tenantId: string | undefined;
  /** performance.now() when the request arrived. */
  readonly started: number;
  /**
   * Where the router that took the request is mounted (see `mountedAt`), '' until one did: express forgets
   * `req.baseUrl` once an error leaves the router, and the route's metric label still needs it.
   */
  mountPath: string;
  /** Milliseconds the request held a tenant database connection, for usage metering (see chargeDatabaseTime). */
  dbTimeMs?: number;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Adds the tenant to the running request's context once it is known (after authentication). */
export function bindTenantToContext(tenantId: string): void {
  const context = storage.getStore();
  if (context) context.tenantId = tenantId;
}
