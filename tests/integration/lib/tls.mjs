// tls.mjs: a throwaway PKI for the TLS tests, made with the openssl command: a root CA, an intermediate CA
// and a server certificate for 127.0.0.1 and localhost signed by the intermediate. The server is given the
// leaf followed by the intermediate (a chain); clients trust the root only, so a handshake succeeds only
// when the server sends its chain. Nothing here is a secret worth keeping: the directory is the test's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
}

/** Makes (in dir) a root CA, an intermediate and a server certificate (ECDSA P-256, `name` picks the
 *  file names so that one directory can hold several). Returns { ca (PEM text), caFile, certFile (leaf +
 *  intermediate), keyFile, leafFile }. */
export function makePki(dir, name = 'server') {
  fs.mkdirSync(dir, { recursive: true });
  const f = (s) => path.join(dir, `${name}-${s}`);
  const ext = f('ext.cnf');
  fs.writeFileSync(
    ext,
    [
      '[ca]',
      'basicConstraints = critical, CA:true',
      'keyUsage = critical, keyCertSign, cRLSign',
      '[leaf]',
      'basicConstraints = critical, CA:false',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost',
      '',
    ].join('\n'),
  );
  const key = (out) => openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);
  key(f('root.key'));
  openssl(dir, ['req', '-x509', '-new', '-key', f('root.key'), '-subj', `/CN=Ostiary test root ${name}`, '-days', '2',
    '-extensions', 'ca', '-config', ext, '-out', f('root.pem')]);
  key(f('int.key'));
  openssl(dir, ['req', '-new', '-key', f('int.key'), '-subj', `/CN=Ostiary test intermediate ${name}`, '-out', f('int.csr')]);
  openssl(dir, ['x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial',
    '-days', '2', '-extfile', ext, '-extensions', 'ca', '-out', f('int.pem')]);
  key(f('leaf.key'));
  openssl(dir, ['req', '-new', '-key', f('leaf.key'), '-subj', '/CN=127.0.0.1', '-out', f('leaf.csr')]);
  openssl(dir, ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('int.pem'), '-CAkey', f('int.key'), '-CAcreateserial',
    '-days', '2', '-extfile', ext, '-extensions', 'leaf', '-out', f('leaf.pem')]);
  const chain = f('chain.pem');
  fs.writeFileSync(chain, fs.readFileSync(f('leaf.pem'), 'utf8') + fs.readFileSync(f('int.pem'), 'utf8'));
  return {
    ca: fs.readFileSync(f('root.pem'), 'utf8'),
    caFile: f('root.pem'),
    certFile: chain,
    keyFile: f('leaf.key'),
    leafFile: f('leaf.pem'),
  };
}
