/**
 * What the signed-in scope may do, so the console offers only that. Display only: the server checks every
 * request itself and refuses the rest with 403 `insufficient_scope`. Read from the token's own `scope`
 * claim (its payload, not verified here), with the same rule as the server's src/auth/admin-scopes.ts:
 * `support` changes nothing, `operator` everything that can be undone, `admin` everything.
 */

export interface Capabilities {
  subject: string;
  scopes: string[];
  can: { write: boolean; delete_tenants: boolean; restore_in_place: boolean; impersonate: boolean };
}

function payloadOf(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replaceAll('-', '+').replaceAll('_', '/'));
    const payload = JSON.parse(json) as unknown;
    return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function scopesOf(payload: Record<string, unknown>): string[] {
  const scopes: string[] = [];
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') scopes.push(...claim.split(' '));
    if (Array.isArray(claim))
      scopes.push(...claim.filter((scope): scope is string => typeof scope === 'string'));
  }
  return scopes.filter((scope) => scope !== '');
}

export function capabilitiesOf(token: string): Capabilities {
  const payload = payloadOf(token);
  const scopes = scopesOf(payload);
  const has = (...names: string[]) => names.some((name) => scopes.includes(`tenantplane:${name}`));
  return {
    subject: typeof payload.sub === 'string' ? payload.sub : 'unknown',
    scopes,
    can: {
      write: has('admin', 'operator'),
      delete_tenants: has('admin'),
      restore_in_place: has('admin'),
      impersonate: has('admin', 'operator', 'support'),
    },
  };
}
