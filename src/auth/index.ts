export { authenticate, requireAdmin } from './authenticate.js';
export { DEV_AUDIENCE, DEV_ISSUER, DEV_ISSUER_FILE, DevIssuer, type MintOptions } from './dev-issuer.js';
export { ADMIN_SCOPE, type Principal, type TokenVerifier } from './principal.js';
export { createTokenVerifier, type TokenAlgorithm, type TokenVerifierOptions } from './token-verifier.js';
