/** Reading a SigV4 request's claims: the Authorization header, or a presigned URL's query parameters. */

/** Presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export type AuthFailureKind =
  | 'missing' // no signature at all
  | 'malformed' // a signature we cannot parse
  | 'unknownKey'
  | 'badSignature'
  | 'skew' // header-signed request too far from our clock
  | 'expired' // presigned URL past its expiry
  | 'payloadMismatch' // x-amz-content-sha256 is not the body's hash
  | 'invalidToken' // temporary credentials without their session token, or with another one
  | 'expiredToken'; // temporary credentials past their expiration

/** What a request claims: key, scope, signed headers, signature and time. */
export interface Parsed {
  accessKeyId: string;
  date: string; // yyyymmdd of the scope
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string; // yyyymmddThhmmssZ
  presigned?: { expires: number; payloadHash?: string };
}

type ParseFailure = { kind: AuthFailureKind; message: string; service?: string };

export function parseAuth(headers: Map<string, string>, rawQuery: string): Parsed | ParseFailure {
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
