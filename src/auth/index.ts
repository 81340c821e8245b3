export { ADMIN_SCOPES, type AdminPermissions, type AdminScope } from './admin-scopes.js';
export { authenticate } from './authenticate.js';
export { authorizeAdmin, requireAdmin } from './authorize-admin.js';
export { DEV_AUDIENCE, DEV_ISSUER, DEV_ISSUER_FILE, DevIssuer, type MintOptions } from './dev-issuer.js';
export { auditImpersonatedRequests } from './impersonation-audit.js';
export { ADMIN_SCOPE, type Principal, type TokenVerifier } from './principal.js';
export { enforceTenantRole, TENANT_ROLES, type TenantRole } from './tenant-role.js';
export { createTokenVerifier, type TokenAlgorithm, type TokenVerifierOptions } from './token-verifier.js';
