// Throwaway TLS material for tests, made with the `openssl` CLI in a temp dir: a CA, a server
// certificate for 127.0.0.1/localhost signed by it, a client certificate signed by it (mutual
// TLS), and a second, unrelated CA (the "wrong CA" a gateway might be given).
//
// EC P-256 keys: generated in milliseconds, unlike RSA. Our own openssl config file is passed to
// every command so the result does not depend on the system's openssl.cnf defaults.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { which } from './which.js';

const run = promisify(execFile);

/** Absolute paths of PEM files; every key is unencrypted. */
export interface TlsMaterial {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate (subject CN = `clientName`) and its key, for mutual TLS. */
  clientCert: string;
  clientKey: string;
  clientName: string;
  /** A second CA that signed nothing we use: trusting only it must fail verification. */
  otherCaCert: string;
  /** Removes the temp dir. */
  cleanup(): void;
}

/** tap `skip` text naming what to install, or false when openssl is present. */
export function opensslMissing(): string | false {
  return which('openssl') ? false : 'openssl not installed (apt-get install -y openssl)';
}

const EXTENSIONS = `
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
/** Short-lived: these files live only for one test run. */
const DAYS = ['-days', '2'];

export async function makeTlsMaterial(opts: { clientName?: string } = {}): Promise<TlsMaterial> {
  const openssl = which('openssl');
  if (!openssl) throw new Error('openssl not installed (apt-get install -y openssl)');
  const dir = mkdtempSync(join(tmpdir(), 'tpgw-tls-'));
  const p = (name: string) => join(dir, name);
  const cnf = p('openssl.cnf');
  writeFileSync(cnf, EXTENSIONS);
  const ssl = async (args: string[]) => {
    try {
      await run(openssl, args, { cwd: dir });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
    }
  };
  const makeCa = (name: string, cn: string) =>
    ssl(['req', '-x509', '-config', cnf, ...EC_KEY, '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`), '-subj', `/CN=${cn}`, '-extensions', 'ca_ext', ...DAYS]);
  const makeLeaf = async (name: string, cn: string, ext: string) => {
    await ssl(['req', '-new', '-config', cnf, ...EC_KEY, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await ssl([
      'x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
      '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-extfile', cnf, '-extensions', ext, '-out', p(`${name}.pem`), ...DAYS,
    ]);
  };
  const clientName = opts.clientName ?? 'tpgw-test-client';
  try {
    await Promise.all([makeCa('ca', 'tpgw test CA'), makeCa('other-ca', 'tpgw unrelated test CA')]);
    await Promise.all([makeLeaf('server', 'localhost', 'server_ext'), makeLeaf('client', clientName, 'client_ext')]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    clientName,
    otherCaCert: p('other-ca.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
