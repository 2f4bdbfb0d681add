import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Account } from '../core/model.js';
import { canonicalHeaders, canonicalPath, canonicalQuery, headerValues } from './canonical.js';

/** AWS refuses header-signed requests dated more than 15 minutes from its clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export type AuthFailureKind =
  | 'missing' // no signature at all
  | 'malformed' // a signature we cannot parse
  | 'unknownKey'
  | 'badSignature'
  | 'skew' // header-signed request too far from our clock
  | 'expired' // presigned URL past its expiry
  | 'payloadMismatch'; // x-amz-content-sha256 is not the body's hash

export interface SignedRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  rawHeaders: string[];
  body: Buffer;
}

export interface AuthOk {
  ok: true;
  account: Account;
  accessKeyId: string;
  service: string;
  region: string;
  /** SHA-256 of the body when it was computed for verification (lets EBS skip hashing a block twice). */
  bodySha256?: Buffer;
}

export interface AuthFailure {
  ok: false;
  kind: AuthFailureKind;
  message: string;
  /** The scope's service, when it could be read: errors are written in that service's protocol. */
  service?: string;
}

interface Parsed {
  accessKeyId: string;
  date: string; // yyyymmdd of the scope
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string; // yyyymmddThhmmssZ
  presigned?: { expires: number; payloadHash?: string };
}

/** Verifies a SigV4 request (Authorization header or presigned query) against the test accounts' keys. */
export class SigV4Verifier {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly lookup: (accessKeyId: string) => Account | undefined) {}

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
    const account = this.lookup(parsed.accessKeyId);
    if (!account) return fail('unknownKey', 'The security token included in the request is invalid.');
    const timeError = checkTime(parsed, now);
    if (timeError) return { ...fail(timeError.kind, timeError.message) };
    const payload = payloadHashes(headers, req.body, parsed);
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
    const key = this.signingKey(account.secretAccessKey, parsed);
    const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`;
    for (const hash of payload.candidates) {
      const canonical = `${base}${hash}`;
      const toSign = `AWS4-HMAC-SHA256\n${parsed.amzDate}\n${scope}\n${sha256hex(canonical)}`;
      const expected = createHmac('sha256', key).update(toSign).digest();
      if (sameHex(expected, parsed.signature)) {
        const ok: AuthOk = {
          ok: true,
          account,
          accessKeyId: parsed.accessKeyId,
          service: parsed.service,
          region: parsed.region,
        };
        if (payload.bodySha256) ok.bodySha256 = payload.bodySha256;
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

type ParseFailure = { kind: AuthFailureKind; message: string; service?: string };

function parseAuth(headers: Map<string, string>, rawQuery: string): Parsed | ParseFailure {
  const auth = headers.get('authorization');
  if (auth !== undefined) return parseHeaderAuth(auth, headers);
  if (/(^|&)X-Amz-Algorithm=/.test(rawQuery)) return parsePresigned(new URLSearchParams(rawQuery));
  return { kind: 'missing', message: 'Request is missing Authentication Token' };
}

function parseHeaderAuth(auth: string, headers: Map<string, string>): Parsed | ParseFailure {
  if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
    return { kind: 'malformed', message: 'Only AWS4-HMAC-SHA256 signatures are supported.' };
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(17).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signed || !signature) {
    return {
      kind: 'malformed',
      message: `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.`,
    };
  }
  const amzDate = headers.get('x-amz-date') ?? fromHttpDate(headers.get('date'));
  return build(credential, signed, signature, amzDate);
}

function parsePresigned(q: URLSearchParams): Parsed | ParseFailure {
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    return { kind: 'malformed', message: 'Only AWS4-HMAC-SHA256 signatures are supported.' };
  }
  const credential = q.get('X-Amz-Credential');
  const signed = q.get('X-Amz-SignedHeaders');
  const signature = q.get('X-Amz-Signature');
  const expires = Number(q.get('X-Amz-Expires'));
  if (!credential || !signed || !signature || !Number.isInteger(expires)) {
    return {
      kind: 'malformed',
      message: 'Presigned URL lacks X-Amz-Credential, -SignedHeaders, -Signature or -Expires.',
    };
  }
  if (expires < 1 || expires > MAX_PRESIGN_SECONDS) {
    return { kind: 'malformed', message: 'X-Amz-Expires must be between 1 and 604800 seconds.' };
  }
  const parsed = build(credential, signed, signature, q.get('X-Amz-Date') ?? undefined);
  if ('kind' in parsed) return parsed;
  const payloadHash = q.get('X-Amz-Content-Sha256') ?? undefined;
  parsed.presigned = payloadHash ? { expires, payloadHash } : { expires };
  return parsed;
}

function build(
  credential: string,
  signed: string,
  signature: string,
  amzDate: string | undefined,
): Parsed | ParseFailure {
  const scope = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = scope;
  if (scope.length !== 5 || !accessKeyId || !date || !region || !service || terminator !== 'aws4_request') {
    return {
      kind: 'malformed',
      message: `Credential '${credential}' is not of the form KEY/DATE/REGION/SERVICE/aws4_request.`,
    };
  }
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { kind: 'malformed', message: 'The request lacks a valid X-Amz-Date.', service };
  }
  if (!amzDate.startsWith(date)) {
    return {
      kind: 'badSignature',
      message: `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`,
      service,
    };
  }
  return { accessKeyId, date, region, service, signedHeaders: signed.split(';'), signature, amzDate };
}

function fromHttpDate(value: string | undefined): string | undefined {
  const t = value ? Date.parse(value) : Number.NaN;
  return Number.isNaN(t)
    ? undefined
    : new Date(t)
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
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
