import { AwsError } from '../core/errors.js';
import { PolicyError, type PolicyKind, parsePolicy } from './policy.js';
import type { QueryCall } from './wire.js';

/** IAM's error codes and statuses (awsQuery: Sender errors in an ErrorResponse). */
export const noSuchEntity = (m: string) => new AwsError('NoSuchEntity', m, 404);
export const alreadyExists = (m: string) => new AwsError('EntityAlreadyExists', m, 409);
export const deleteConflict = (m: string) => new AwsError('DeleteConflict', m, 409);
export const limitExceeded = (m: string) => new AwsError('LimitExceeded', m, 409);
export const invalidInput = (m: string) => new AwsError('InvalidInput', m, 400);
export const validationError = (m: string) => new AwsError('ValidationError', m, 400);

const NAME = /^[\w+=,.@-]{1,64}$/;

export function checkName(value: string, member: string, max = 64): string {
  if (!NAME.test(value) || value.length > max) {
    throw validationError(
      `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  }
  return value;
}

export function checkPath(q: QueryCall): string {
  const path = q.p.str('Path') ?? '/';
  if (!/^\/([\x21-\x7e]*\/)?$/.test(path) || path.length > 512) {
    throw validationError(
      `The specified value for path is invalid. It must begin and end with / and contain only printable characters.`,
    );
  }
  return path;
}

export function checkDocument(text: string, kind: PolicyKind): string {
  try {
    parsePolicy(text, kind);
  } catch (e) {
    if (e instanceof PolicyError) throw new AwsError('MalformedPolicyDocument', e.message, 400);
    throw e;
  }
  return text;
}

/** Policy documents come back URL-encoded from IAM, as AWS sends them. */
export function encodedDocument(text: string): string {
  return encodeURIComponent(text);
}

/** Marker and MaxItems paging as IAM lists do it. */
export function iamPage<T>(q: QueryCall, items: T[]): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const max = q.p.int('MaxItems') ?? 100;
  if (max < 1 || max > 1000) throw validationError('MaxItems must be between 1 and 1000.');
  const marker = q.p.str('Marker');
  const start = marker === undefined ? 0 : Number(Buffer.from(marker, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0) throw invalidInput('Invalid Marker.');
  const end = start + max;
  const more = end < items.length;
  return {
    items: items.slice(start, end),
    IsTruncated: more,
    ...(more ? { Marker: Buffer.from(String(end)).toString('base64url') } : {}),
  };
}
