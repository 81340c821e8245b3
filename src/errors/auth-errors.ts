/**
 * The identity provider could not be asked (network error, timeout, non-2xx answer, not a key set).
 * Distinct from "it answered and the kid is not there", which is the token's fault, not the provider's.
 */
export class ProviderUnreachableError extends Error {}
