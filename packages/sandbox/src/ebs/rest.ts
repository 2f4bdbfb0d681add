import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';

/** EBS direct API errors (restJson1: x-amzn-ErrorType header, {"Message", "Reason"} body). */
export function validation(reason: string, message: string): AwsError {
  return new AwsError('ValidationException', message, 400, { Reason: reason });
}

export function notFound(snapshotId: string): AwsError {
  return new AwsError('ResourceNotFoundException', `The snapshot '${snapshotId}' does not exist.`, 404, {
    Reason: 'SNAPSHOT_NOT_FOUND',
  });
}

export function accessDenied(message: string): AwsError {
  return new AwsError('AccessDeniedException', message, 403, { Reason: 'UNAUTHORIZED_ACCOUNT' });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/** An integer parameter (query, path or header), or `fallback` when absent; ValidationException when not one. */
export function intParam(
  value: string | string[] | null | undefined,
  name: string,
  fallback?: number,
): number {
  if (value === undefined || value === null) {
    if (fallback === undefined) throw validation('INVALID_PARAMETER_VALUE', `${name} is required.`);
    return fallback;
  }
  const text = Array.isArray(value) ? (value[0] ?? '') : value;
  if (!/^-?\d+$/.test(text))
    throw validation('INVALID_PARAMETER_VALUE', `${name} must be an integer, not '${text}'.`);
  return Number(text);
}

/** A single header value (Node joins repeated ones). */
export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
