/**
 * The admin API's authorization rule, in one table: which scope each admin request needs. Routes are not
 * listed one by one: reads need `viewer`, writes need `operator`, and only the exceptions below are named,
 * so a route added later gets the right default without anyone editing this file.
 */

/** The admin scopes, widest first. */
export const ADMIN_SCOPES = {
  admin: 'tenantplane:admin',
  operator: 'tenantplane:operator',
  support: 'tenantplane:support',
  viewer: 'tenantplane:viewer',
} as const;

export type AdminScope = (typeof ADMIN_SCOPES)[keyof typeof ADMIN_SCOPES];

const ALL_SCOPES: readonly string[] = Object.values(ADMIN_SCOPES);

/** What an admin request does, as far as scopes are concerned. */
export type AdminAction = 'read' | 'write' | 'impersonate' | 'destroy';

/**
 * The scopes that allow each action, widest first; the last one is the narrowest, which a refusal names.
 * `support` reads and impersonates but changes nothing; `operator` does everything but what cannot be
 * undone (deleting tenants, destroying keys, restoring over a tenant's rows).
 */
const ALLOWED: Record<AdminAction, readonly AdminScope[]> = {
  read: [ADMIN_SCOPES.admin, ADMIN_SCOPES.operator, ADMIN_SCOPES.support, ADMIN_SCOPES.viewer],
  write: [ADMIN_SCOPES.admin, ADMIN_SCOPES.operator],
  impersonate: [ADMIN_SCOPES.admin, ADMIN_SCOPES.operator, ADMIN_SCOPES.support],
  destroy: [ADMIN_SCOPES.admin],
};

interface ActionRule {
  method: string;
  /** Matched against the path below /admin/v1, as express matches routes: any case, trailing slash or not. */
  path: RegExp;
  action: AdminAction;
  /** Only when the body says so; the rule applies to every request of the route otherwise. */
  when?: (body: Record<string, unknown>) => boolean;
}

/** A restore that names no new tenant (`into`) replaces the tenant's own rows. */
const restoresInPlace = (body: Record<string, unknown>) => typeof body.into !== 'string' || body.into === '';

/** The exceptions to "reads need viewer, writes need operator". */
const RULES: readonly ActionRule[] = [
  // Deleting a tenant; with ?destroy_backups=true it also destroys its backup keys (crypto-shredding).
  { method: 'DELETE', path: /^\/tenants\/[^/]+\/?$/i, action: 'destroy' },
  { method: 'POST', path: /^\/tenants\/[^/]+\/restores\/?$/i, action: 'destroy', when: restoresInPlace },
  { method: 'POST', path: /^\/tenants\/[^/]+\/impersonations\/?$/i, action: 'impersonate' },
];

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the admin request `method path` (below /admin/v1) with `body` does. */
export function adminActionOf(method: string, path: string, body: unknown): AdminAction {
  const fields = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  for (const rule of RULES) {
    if (rule.method === method && rule.path.test(path) && (rule.when?.(fields) ?? true)) return rule.action;
  }
  return READ_METHODS.has(method) ? 'read' : 'write';
}

/** The admin scopes among a token's scopes. */
export function adminScopesOf(scopes: readonly string[]): AdminScope[] {
  return scopes.filter((scope): scope is AdminScope => ALL_SCOPES.includes(scope));
}

/** Whether a token with `scopes` may do `action`. */
export function allows(scopes: readonly string[], action: AdminAction): boolean {
  return ALLOWED[action].some((scope) => scopes.includes(scope));
}

/** The narrowest scope that allows `action`: what a refusal asks for. */
export function scopeNeeded(action: AdminAction): AdminScope {
  return ALLOWED[action].at(-1)!;
}

/** What a caller may do, for a console to offer only that (the server checks every request anyway). */
export interface AdminPermissions {
  write: boolean;
  delete_tenants: boolean;
  restore_in_place: boolean;
  impersonate: boolean;
}

export function permissionsOf(scopes: readonly string[]): AdminPermissions {
  return {
    write: allows(scopes, 'write'),
    delete_tenants: allows(scopes, 'destroy'),
    restore_in_place: allows(scopes, 'destroy'),
    impersonate: allows(scopes, 'impersonate'),
  };
}
