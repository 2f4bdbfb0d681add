import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface TlsMaterial {
  key: string;
  cert: string;
  /** SHA-256 of the certificate's DER, `AB:CD:…` (as openssl and Node's fingerprint256 print it). */
  fingerprint: string;
}

const DAYS = 825;

/**
 * The operator's certificate when given, else the one generated at first start under DATA/tls (ECDSA P-256,
 * self-signed, names: localhost, this host, loopback and the listen address).
 */
export async function loadTls(
  dataDir: string,
  listenHost: string,
  given?: { certFile: string; keyFile: string },
): Promise<TlsMaterial> {
  if (given) {
    const [cert, key] = await Promise.all([
      readFile(given.certFile, 'utf8'),
      readFile(given.keyFile, 'utf8'),
    ]);
    return { cert, key, fingerprint: fingerprintOf(cert) };
  }
  const dir = join(dataDir, 'tls');
  try {
    const [cert, key] = await Promise.all([
      readFile(join(dir, 'cert.pem'), 'utf8'),
      readFile(join(dir, 'key.pem'), 'utf8'),
    ]);
    return { cert, key, fingerprint: fingerprintOf(cert) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const made = await generate(listenHost);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Key first: a certificate on disk always has its key beside it.
  await writeAtomic(join(dir, 'key.pem'), made.key, 0o600);
  await writeAtomic(join(dir, 'cert.pem'), made.cert, 0o644);
  return made;
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

async function generate(listenHost: string): Promise<TlsMaterial> {
  // @peculiar/x509 needs the Reflect metadata polyfill at load; both load only when a certificate is made.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names: import('@peculiar/x509').JsonGeneralName[] = [
    { type: 'dns', value: 'localhost' },
    { type: 'dns', value: hostname() },
    { type: 'ip', value: '127.0.0.1' },
    { type: 'ip', value: '::1' },
  ];
  if (/^[\d.]+$|:/.test(listenHost) && !['0.0.0.0', '::', '127.0.0.1', '::1'].includes(listenHost)) {
    names.push({ type: 'ip', value: listenHost });
  }
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(String(now)).update(hostname()).digest('hex').slice(0, 16),
    name: `CN=Lifeboat appliance ${hostname()}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + DAYS * 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  return { key, cert: certPem, fingerprint: fingerprintOf(certPem) };
}

async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode, flush: true });
  await rename(temp, file);
}
