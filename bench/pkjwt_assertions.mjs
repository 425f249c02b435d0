// bench/pkjwt_assertions.mjs N ISSUER OUTDIR: an ES256 key pair, its public JWK Set (OUTDIR/jwks.json) and N
// token-request bodies (OUTDIR/bodies.txt, one per line), each with its own client assertion (unique jti,
// valid 10 minutes) for the client "bench-pkjwt": the input of bench/pkjwt.sh. Uses tests/integration's jose.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../tests/integration/x.js'));
const jose = await import(require.resolve('jose'));
const [n, issuer, outdir] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
fs.writeFileSync(path.join(outdir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
const out = fs.openSync(path.join(outdir, 'bodies.txt'), 'w');
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < n; i++) {
  const jwt = await new jose.SignJWT({ iss: 'bench-pkjwt', sub: 'bench-pkjwt', aud: issuer, jti: randomUUID(), iat: now, exp: now + 590 })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' }).sign(privateKey);
  fs.writeSync(out, `grant_type=client_credentials&scope=api%3Aread&client_assertion_type=${encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')}&client_assertion=${jwt}\n`);
}
fs.closeSync(out);
