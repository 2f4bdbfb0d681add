import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Account, Principal } from '../core/model.js';
import { canonicalHeaders, canonicalPath, canonicalQuery, headerValues } from './canonical.js';
import { type AuthFailureKind, type Parsed, parseAuth } from './sigv4-parse.js';

export type { AuthFailureKind } from './sigv4-parse.js';

/** AWS refuses header-signed requests dated more than 15 minutes from its clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SignedRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  rawHeaders: string[];
  body: Buffer;
  /** The body is left unread (S3): the declared payload hash is signed over as is, its service checks it. */
  streaming?: boolean;
}

/** What an access key id stands for: whose key, its secret, and (temporary credentials) token and expiry. */
export interface Credential {
  account: Account;
  secretAccessKey: string;
  principal: Principal;
  sessionToken?: string;
  /** Milliseconds on the sandbox clock (tests advance it to expire sessions). */
  expiresAt?: number;
}

export interface AuthOk {
  ok: true;
  account: Account;
  principal: Principal;
  accessKeyId: string;
  service: string;
  region: string;
  /** SHA-256 of the body when it was computed for verification (lets EBS skip hashing a block twice). */
  bodySha256?: Buffer;
  /** The payload hash the client declared (x-amz-content-sha256 or the presigned URL's). */
  payloadHash?: string;
  /** For STREAMING-AWS4-HMAC-SHA256-* bodies: what chains the chunk signatures to this request's signature. */
  chunkSigning?: { key: Buffer; seedSignature: string; amzDate: string; scope: string };
}

export interface AuthFailure {
  ok: false;
  kind: AuthFailureKind;
  message: string;
  /** The scope's service, when it could be read: errors are written in that service's protocol. */
  service?: string;
}

/**
 * Verifies a SigV4 request (Authorization header or presigned query) against the keys the lookup knows: the
 * test accounts' root keys, IAM users' access keys and STS temporary credentials (which must come with their
 * x-amz-security-token and expire on the sandbox clock).
 */
export class SigV4Verifier {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly lookup: (accessKeyId: string) => Credential | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  verify(req: SignedRequest, now: number): AuthOk | AuthFailure {
    const headers = headerValues(req.rawHeaders);
    const parsed = parseAuth(headers, req.rawQuery);
    if ('kind' in parsed) return { ok: false, ...parsed };
    const fail = (kind: AuthFailureKind, message: string): AuthFailure => ({
      ok: false,
      kind,
      message,
      service: parsed.service,
    });
    const cred = this.lookup(parsed.accessKeyId);
    if (!cred) return fail('unknownKey', 'The security token included in the request is invalid.');
    const timeError = checkTime(parsed, now);
    if (timeError) return { ...fail(timeError.kind, timeError.message) };
    const payload = req.streaming
      ? streamedHashes(headers, parsed)
      : payloadHashes(headers, req.body, parsed);
    if ('mismatch' in payload) {
      return fail(
        'payloadMismatch',
        'The provided x-amz-content-sha256 header does not match what was computed.',
      );
    }
    const canon = canonicalHeaders(headers, parsed.signedHeaders);
    if ('missing' in canon) return fail('badSignature', `Signed header '${canon.missing}' is missing.`);
    const skip = parsed.presigned ? 'X-Amz-Signature' : undefined;
    const base = `${req.method}\n${canonicalPath(req.rawPath, parsed.service)}\n${canonicalQuery(req.rawQuery, skip)}\n${canon.text}\n${parsed.signedHeaders.join(';')}\n`;
    const key = this.signingKey(cred.secretAccessKey, parsed);
    const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`;
    for (const hash of payload.candidates) {
      const canonical = `${base}${hash}`;
      const toSign = `AWS4-HMAC-SHA256\n${parsed.amzDate}\n${scope}\n${sha256hex(canonical)}`;
      const expected = createHmac('sha256', key).update(toSign).digest();
      if (sameHex(expected, parsed.signature)) {
        const refused = checkToken(cred, headers, req.rawQuery, this.clock());
        if (refused) return fail(refused.kind, refused.message);
        const ok: AuthOk = {
          ok: true,
          account: cred.account,
          principal: cred.principal,
          accessKeyId: parsed.accessKeyId,
          service: parsed.service,
          region: parsed.region,
        };
        if (payload.bodySha256) ok.bodySha256 = payload.bodySha256;
        if (req.streaming)
          withStreamingClaims(ok, hash, {
            key,
            seedSignature: parsed.signature,
            amzDate: parsed.amzDate,
            scope,
          });
        return ok;
      }
    }
    return fail(
      'badSignature',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }

  private signingKey(secret: string, p: Parsed): Buffer {
    const cacheKey = `${secret}\n${p.date}\n${p.region}\n${p.service}`;
    let key = this.keys.get(cacheKey);
    if (!key) {
      key = hmac(hmac(hmac(hmac(`AWS4${secret}`, p.date), p.region), p.service), 'aws4_request');
      if (this.keys.size > 256) this.keys.clear();
      this.keys.set(cacheKey, key);
    }
    return key;
  }
}

/** Temporary credentials need their session token (signed header or presigned query) and must not have expired. */
function checkToken(
  cred: Credential,
  headers: Map<string, string>,
  rawQuery: string,
  now: number,
): { kind: AuthFailureKind; message: string } | undefined {
  if (cred.sessionToken === undefined) return undefined;
  const given =
    headers.get('x-amz-security-token') ??
    (rawQuery.includes('X-Amz-Security-Token=')
      ? (new URLSearchParams(rawQuery).get('X-Amz-Security-Token') ?? undefined)
      : undefined);
  if (given !== cred.sessionToken) {
    return { kind: 'invalidToken', message: 'The security token included in the request is invalid.' };
  }
  if (cred.expiresAt !== undefined && now >= cred.expiresAt) {
    return { kind: 'expiredToken', message: 'The security token included in the request is expired' };
  }
  return undefined;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function sameHex(expected: Buffer, hex: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

function parseAmzDate(s: string): number {
  return Date.UTC(
    +s.slice(0, 4),
    +s.slice(4, 6) - 1,
    +s.slice(6, 8),
    +s.slice(9, 11),
    +s.slice(11, 13),
    +s.slice(13, 15),
  );
}

function checkTime(p: Parsed, now: number): { kind: AuthFailureKind; message: string } | undefined {
  const signedAt = parseAmzDate(p.amzDate);
  if (p.presigned) {
    if (signedAt > now + MAX_SKEW_MS) return { kind: 'expired', message: 'Request is not yet valid.' };
    if (now > signedAt + p.presigned.expires * 1000)
      return { kind: 'expired', message: 'Request has expired.' };
    return undefined;
  }
  if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    const nowIso = new Date(now)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const edge = signedAt < now ? 'earlier' : 'later';
    return {
      kind: 'skew',
      message: `Signature expired: ${p.amzDate} is now ${edge} than ${nowIso} (${nowIso} ${signedAt < now ? '-' : '+'} 15 min.)`,
    };
  }
  return undefined;
}

/** Unread bodies: the client's declared hash is what it signed (S3 requires the header on header-signed calls). */
function streamedHashes(
  headers: Map<string, string>,
  p: Parsed,
): { candidates: string[]; bodySha256?: Buffer } | { mismatch: true } {
  const claimed = headers.get('x-amz-content-sha256') ?? p.presigned?.payloadHash;
  if (claimed !== undefined) return { candidates: [claimed] };
  return p.presigned ? { candidates: ['UNSIGNED-PAYLOAD'] } : { mismatch: true };
}

function withStreamingClaims(ok: AuthOk, hash: string, signing: NonNullable<AuthOk['chunkSigning']>): void {
  ok.payloadHash = hash;
  if (hash.startsWith('STREAMING-AWS4-HMAC-SHA256-')) ok.chunkSigning = signing;
}

/** The payload hashes the client may have signed, and the body's SHA-256 if we had to compute it. */
function payloadHashes(
  headers: Map<string, string>,
  body: Buffer,
  p: Parsed,
): { candidates: string[]; bodySha256?: Buffer } | { mismatch: true } {
  const claimed = headers.get('x-amz-content-sha256') ?? p.presigned?.payloadHash;
  // Unsigned and streaming (aws-chunked, part 2's S3) payloads: the body is not part of the signature.
  if (claimed === 'UNSIGNED-PAYLOAD' || claimed?.startsWith('STREAMING-')) return { candidates: [claimed] };
  const digest = body.length === 0 ? undefined : createHash('sha256').update(body).digest();
  const actual = digest ? digest.toString('hex') : EMPTY_SHA256;
  const result = (candidates: string[]) => (digest ? { candidates, bodySha256: digest } : { candidates });
  if (claimed !== undefined) return claimed.toLowerCase() === actual ? result([claimed]) : { mismatch: true };
  // Presigned URLs are signed over the body hash by the JS SDK and over UNSIGNED-PAYLOAD by others.
  return result(p.presigned ? [actual, 'UNSIGNED-PAYLOAD'] : [actual]);
}
