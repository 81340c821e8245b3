-- The key pair tenantplane signs impersonation tokens with when an external identity provider issues every
-- other token (AUTH_JWKS_URL): the private JWK sealed with the catalog secret key, the public one as it is
-- published at /.well-known/tenantplane-impersonation-jwks.json. Every serving process signs with the
-- newest row and trusts them all, so a new key can be added before the old one goes.
CREATE TABLE impersonation_keys (
  kid text PRIMARY KEY,
  private_jwk_sealed text NOT NULL,
  public_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
