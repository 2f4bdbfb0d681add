/**
 * The pieces of a SigV4 canonical request, computed from what arrived on the wire (the raw, percent-encoded path
 * and query, and the raw header list), the way the SDKs compute them before sending.
 */

/** RFC 3986 encoding, as the SDKs' escapeUri and botocore's quote(safe='-_.~'). */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const PLAIN_PATH = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

/**
 * Canonical URI. S3 signs the path as sent; every other service signs it normalised (empty and dot segments
 * removed) and encoded once more, so "%2F" in a segment becomes "%252F".
 */
export function canonicalPath(rawPath: string, service: string): string {
  if (service === 's3') return rawPath || '/';
  // Fast path (every EBS and EC2 request): nothing to normalise or encode.
  if (PLAIN_PATH.test(rawPath)) return rawPath;
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const normalized = `/${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

/** Canonical query string: every pair decoded, re-encoded, sorted by key then value; `skip` left out. */
export function canonicalQuery(rawQuery: string, skip?: string): string {
  if (!rawQuery) return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    if (key === skip) continue;
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header values by lower-case name, repeated headers joined with commas (from IncomingMessage.rawHeaders). */
export function headerValues(rawHeaders: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim().replace(/\s+/g, ' ');
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

/** The canonical headers block for the signed header names, or the first name missing from the request. */
export function canonicalHeaders(
  headers: Map<string, string>,
  signed: string[],
): { text: string } | { missing: string } {
  let text = '';
  for (const name of signed) {
    const value = headers.get(name);
    if (value === undefined) return { missing: name };
    text += `${name}:${value}\n`;
  }
  return { text };
}
