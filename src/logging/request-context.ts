import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written while serving a request should carry. */
export interface RequestContext {
  requestId: string;
  tenantId?: string;
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
