/**
 * How tenantplane divides each server's connection budget (`servers.max_connections`): the router's
 * pools may hold one share and fleet migrations the other, so a migration run never crowds out
 * application traffic and traffic never starves a migration. The two add up to 1 (written out, since
 * 1 - 0.8 is not exactly 0.2 in floating point).
 */
export const ROUTER_BUDGET_SHARE = 0.8;
export const MIGRATION_BUDGET_SHARE = 0.2;

/** The connections every instance's routers together may hold on a server: their share, at least one. */
export function routerBudget(maxConnections: number, share = ROUTER_BUDGET_SHARE): number {
  return Math.max(1, Math.floor(maxConnections * share));
}
