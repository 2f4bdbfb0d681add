/**
 * Certificate pinning. The appliance's certificate is usually self-signed (generated at its first start), so the
 * CLI trusts exactly one certificate per server: its SHA-256 fingerprint, given with `lifeboat login
 * --fingerprint F` or confirmed at a terminal on first contact, saved with the login. Every later connection
 * completes the TLS handshake, compares the peer's fingerprint with the saved one, and only then hands the socket
 * to the HTTP request: an impostor never receives a byte of a request (no token, no password).
 */

import type { ClientRequestArgs } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { UsageError } from '../errors.js';
import { APPLIANCE_EXIT, ApplianceError, unreachable } from './errors.js';

/** `AB:CD:…` (64 hex digits, upper case, colons), as `openssl x509 -fingerprint -sha256` and Node print it. */
export function normalizeFingerprint(text: string): string {
  const hex = text
    .trim()
    .replace(/^sha-?256\s*(fingerprint)?\s*[:=]?\s*/i, '')
    .replace(/[:\s-]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new UsageError(
      `"${text}" is not a SHA-256 fingerprint: 64 hexadecimal digits, with or without colons (AB:CD:…)`,
    );
  }
  return hex.match(/../g)!.join(':');
}

export function sameFingerprint(a: string, b: string): boolean {
  return a.replace(/:/g, '').toUpperCase() === b.replace(/:/g, '').toUpperCase();
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${b64.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface PeerCertificateInfo {
  fingerprint: string;
  pem: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
}

interface Endpoint {
  host: string;
  port: number;
  servername?: string;
}

function endpointOf(url: URL): Endpoint {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : 443;
  return { host, port, ...(isIP(host) === 0 && { servername: host }) };
}

function describeName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

/**
 * Reads the certificate a server presents without trusting it (first contact only: nothing is sent but the TLS
 * handshake).
 */
export function probeCertificate(server: string, timeoutMs = 15_000): Promise<PeerCertificateInfo> {
  const { host, port, servername } = endpointOf(new URL(server));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(servername && { servername }), rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(unreachable(server, Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate();
      socket.end();
      if (!cert?.raw || !cert.fingerprint256) {
        reject(
          new ApplianceError(`the appliance at ${server} presented no certificate`, {
            code: 'CERTIFICATE_NOT_TRUSTED',
            exitCode: APPLIANCE_EXIT.unreachable,
          }),
        );
        return;
      }
      resolve({
        fingerprint: cert.fingerprint256.toUpperCase(),
        pem: derToPem(cert.raw),
        subject: describeName(cert.subject),
        issuer: describeName(cert.issuer),
        validFrom: cert.valid_from,
        validTo: cert.valid_to,
      });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(unreachable(server, err));
    });
  });
}

export function certificateChanged(server: string, saved: string, now: string | undefined): ApplianceError {
  const shown = now ? now.toUpperCase() : '(none)';
  return new ApplianceError(
    `the appliance's certificate changed (saved SHA-256 ${saved}, now ${shown}): if this is expected, run ` +
      `\`lifeboat login --server ${server} --fingerprint ${shown}\``,
    { code: 'CERTIFICATE_CHANGED', exitCode: APPLIANCE_EXIT.unreachable },
  );
}

type CreateConnection = NonNullable<ClientRequestArgs['createConnection']>;

/**
 * A `createConnection` for http(s).request that yields the TLS socket only once the peer's certificate has the
 * pinned fingerprint; otherwise the request fails with CERTIFICATE_CHANGED before writing anything.
 */
export function pinnedConnection(server: string, fingerprint: string): CreateConnection {
  const { host, port, servername } = endpointOf(new URL(server));
  return (_options, oncreate) => {
    const socket: TLSSocket = connect({
      host,
      port,
      ...(servername && { servername }),
      // The chain is not what is trusted here (the certificate is usually self-signed): the fingerprint is, and
      // it is checked below before the socket is handed over.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    let settled = false;
    socket.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      const now = socket.getPeerCertificate()?.fingerprint256;
      if (now && sameFingerprint(now, fingerprint)) {
        oncreate(null, socket as Duplex);
        return;
      }
      socket.destroy();
      oncreate(certificateChanged(server, fingerprint, now), socket as Duplex);
    });
    socket.once('error', (err) => {
      if (settled) return;
      settled = true;
      oncreate(err, socket as Duplex);
    });
    return undefined;
  };
}
