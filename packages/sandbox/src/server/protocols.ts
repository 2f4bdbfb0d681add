import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { AuthFailureKind } from './sigv4.js';

/** The wire protocols of the services the sandbox answers (and will answer in part 2). */
export type Protocol = 'ec2' | 'restJson' | 'json' | 'query' | 's3';

const PROTOCOLS: Record<string, Protocol> = {
  ec2: 'ec2',
  ebs: 'restJson',
  s3: 's3',
  kms: 'json',
  sts: 'query',
  iam: 'query',
};

export function protocolOf(service: string | undefined): Protocol {
  return (service && PROTOCOLS[service]) || 'json';
}

/** Authentication failures as each protocol's AWS service names them. */
const AUTH_ERRORS: Record<AuthFailureKind, Record<Protocol, [code: string, status: number]>> = {
  missing: {
    ec2: ['MissingAuthenticationToken', 401],
    restJson: ['MissingAuthenticationTokenException', 403],
    json: ['MissingAuthenticationTokenException', 400],
    query: ['MissingAuthenticationToken', 403],
    s3: ['AccessDenied', 403],
  },
  malformed: {
    ec2: ['IncompleteSignature', 400],
    restJson: ['IncompleteSignatureException', 400],
    json: ['IncompleteSignatureException', 400],
    query: ['IncompleteSignature', 400],
    s3: ['AuthorizationHeaderMalformed', 400],
  },
  unknownKey: {
    ec2: ['AuthFailure', 401],
    restJson: ['UnrecognizedClientException', 403],
    json: ['UnrecognizedClientException', 400],
    query: ['InvalidClientTokenId', 403],
    s3: ['InvalidAccessKeyId', 403],
  },
  // EC2 answers every credential it cannot validate (unknown key, wrong secret, wrong scope) with AuthFailure.
  badSignature: {
    ec2: ['AuthFailure', 401],
    restJson: ['InvalidSignatureException', 403],
    json: ['InvalidSignatureException', 400],
    query: ['SignatureDoesNotMatch', 403],
    s3: ['SignatureDoesNotMatch', 403],
  },
  skew: {
    ec2: ['RequestExpired', 400],
    restJson: ['InvalidSignatureException', 403],
    json: ['InvalidSignatureException', 400],
    query: ['SignatureDoesNotMatch', 403],
    s3: ['RequestTimeTooSkewed', 403],
  },
  expired: {
    ec2: ['RequestExpired', 403],
    restJson: ['InvalidSignatureException', 403],
    json: ['InvalidSignatureException', 400],
    query: ['ExpiredToken', 403],
    s3: ['AccessDenied', 403],
  },
  invalidToken: {
    ec2: ['AuthFailure', 401],
    restJson: ['UnrecognizedClientException', 403],
    json: ['UnrecognizedClientException', 400],
    query: ['InvalidClientTokenId', 403],
    s3: ['InvalidToken', 400],
  },
  expiredToken: {
    ec2: ['RequestExpired', 400],
    restJson: ['ExpiredTokenException', 403],
    json: ['ExpiredTokenException', 400],
    query: ['ExpiredToken', 403],
    s3: ['ExpiredToken', 400],
  },
  payloadMismatch: {
    ec2: ['AuthFailure', 401],
    restJson: ['InvalidSignatureException', 403],
    json: ['InvalidSignatureException', 400],
    query: ['SignatureDoesNotMatch', 403],
    s3: ['XAmzContentSHA256Mismatch', 400],
  },
};

/** The messages some services give whatever went wrong, where the verifier's own would say more than AWS does. */
const AUTH_MESSAGES: Partial<Record<Protocol, Record<string, string>>> = {
  ec2: { AuthFailure: 'AWS was not able to validate the provided access credentials' },
  s3: { InvalidAccessKeyId: 'The AWS Access Key Id you provided does not exist in our records.' },
};

export function authError(kind: AuthFailureKind, protocol: Protocol, message: string): AwsError {
  const [code, status] = AUTH_ERRORS[kind][protocol];
  return new AwsError(code, AUTH_MESSAGES[protocol]?.[code] ?? message, status);
}

/** Injected or quota throttling, as each protocol's services report it. */
export function throttleError(protocol: Protocol): AwsError {
  switch (protocol) {
    case 'ec2':
      return new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    case 'restJson':
      return new AwsError('RequestThrottledException', 'The request was throttled.', 400, {
        Reason: 'ACCOUNT_THROTTLED',
      });
    case 's3':
      return new AwsError('SlowDown', 'Please reduce your request rate.', 503);
    case 'query':
      return new AwsError('Throttling', 'Rate exceeded', 400);
    default:
      return new AwsError('ThrottlingException', 'Rate exceeded', 400);
  }
}

export function serverError(protocol: Protocol, status = 500): AwsError {
  const unavailable = status === 503;
  switch (protocol) {
    case 'ec2':
      return unavailable
        ? new AwsError('Unavailable', 'The server is overloaded and cannot handle the request.', 503)
        : new AwsError('InternalError', 'An internal error has occurred.', 500);
    case 'restJson':
      return new AwsError('InternalServerException', 'An internal error has occurred.', status);
    case 's3':
      return unavailable
        ? new AwsError('ServiceUnavailable', 'Please reduce your request rate.', 503)
        : new AwsError('InternalError', 'We encountered an internal error. Please try again.', 500);
    default:
      return new AwsError(
        unavailable ? 'ServiceUnavailable' : 'InternalFailure',
        'An internal error occurred.',
        status,
      );
  }
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Writes an error in the protocol's shape (see the research notes §3.4 for what the SDKs parse). */
export function writeAwsError(
  res: ServerResponse,
  protocol: Protocol,
  err: AwsError,
  requestId: string,
): void {
  const { code, message, status } = err;
  let type: string;
  let body: string;
  switch (protocol) {
    case 'ec2':
      type = 'text/xml;charset=UTF-8';
      body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
      break;
    case 'query':
      type = 'text/xml';
      body = `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      break;
    case 's3':
      type = 'application/xml';
      body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message><RequestId>${requestId}</RequestId></Error>`;
      break;
    case 'restJson':
      type = 'application/json';
      res.setHeader('x-amzn-ErrorType', code);
      body = JSON.stringify({ Message: message, ...err.fields });
      break;
    default:
      type = 'application/x-amz-json-1.1';
      body = JSON.stringify({ __type: code, message, ...err.fields });
  }
  const bytes = Buffer.from(body);
  res.writeHead(status, {
    'content-type': type,
    'content-length': bytes.length,
    'x-amzn-RequestId': requestId,
  });
  res.end(bytes);
}

/** Any thrown value as an AwsError; unexpected ones become the protocol's internal error. */
export function asAwsError(e: unknown, protocol: Protocol): AwsError {
  return e instanceof AwsError ? e : serverError(protocol);
}
