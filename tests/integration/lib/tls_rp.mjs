// tls_rp.mjs: a relying party run in its own node process by tls.test.mjs, so that it trusts the test's CA
// the way an operator's application would: through NODE_EXTRA_CA_CERTS, read by node at start (so not
// settable from inside the test process). No allowInsecureRequests: openid-client talks https only.
//   node tls_rp.mjs ISSUER CLIENT_ID CLIENT_SECRET RESOURCE
// Prints one JSON line: the discovered issuer, the token response, introspection before and after
// revocation, and the JWT verified against the JWKS (jose, over the same TLS).
import * as jose from 'jose';
import * as client from 'openid-client';

const [issuer, clientId, secret, resource] = process.argv.slice(2);
const cfg = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(secret));
const md = cfg.serverMetadata();
const tr = await client.clientCredentialsGrant(cfg, { resource, scope: 'read' });
const { payload } = await jose.jwtVerify(tr.access_token, jose.createRemoteJWKSet(new URL(md.jwks_uri)), {
  issuer,
  audience: resource,
  typ: 'at+jwt',
});
const before = await client.tokenIntrospection(cfg, tr.access_token);
await client.tokenRevocation(cfg, tr.access_token);
const after = await client.tokenIntrospection(cfg, tr.access_token);
process.stdout.write(
  `${JSON.stringify({
    issuer: md.issuer,
    token_endpoint: md.token_endpoint,
    token_type: tr.token_type,
    aud: payload.aud,
    active_before: before.active,
    active_after: after.active,
  })}\n`,
);
