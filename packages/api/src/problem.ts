import { randomUUID } from 'node:crypto';
import { type ApplianceErrorCode, isApplianceError } from '@lifeboat/appliance';

/** An RFC 9457 problem, as every error of the API is answered. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
}

export interface ProblemAnswer {
  body: ProblemBody;
  headers: Record<string, string>;
  /** Only 5xx: what the log gets (never sent to the client). */
  internal?: unknown;
}

const STATUS: Record<ApplianceErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  SESSION_EXPIRED: 401,
  FORBIDDEN: 403,
  CSRF_REQUIRED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LAST_ADMINISTRATOR: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  PRECONDITION_FAILED: 412,
  IDEMPOTENCY_KEY_REUSED: 422,
  TOO_MANY_ATTEMPTS: 429,
  BUSY: 429,
  DATA_DIR_LOCKED: 503,
  DATA_DIR_UNUSABLE: 503,
  NO_ADMINISTRATOR: 503,
  CATALOG: 503,
  CATALOG_UNUSABLE: 503,
  SECRET_MISMATCH: 409,
  SECRET_DAMAGED: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  412: 'Precondition failed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Unavailable',
};

export function problem(
  status: number,
  code: string,
  detail: string,
  extra: Partial<ProblemBody> = {},
): ProblemBody {
  return {
    type: `urn:lifeboat:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...extra,
  };
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
  validationContext?: string;
}

/** Fastify's own errors (parsing, limits, validation) in the API's words. */
const FASTIFY: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'the request body is larger than 1 MiB'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON', 'the body is empty: send a JSON object'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON', 'the body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'MALFORMED_REQUEST', 'Content-Length does not match the body'],
  FST_ERR_BAD_URL: [400, 'VALIDATION_FAILED', 'the path is not valid percent-encoded UTF-8'],
};

export function problemOf(err: unknown): ProblemAnswer {
  if (isApplianceError(err)) {
    const status = STATUS[err.code];
    const headers: Record<string, string> = {};
    if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
    // Validation by a service (a policy document): each wrong field, named.
    const extra = err.errors?.length
      ? { errors: err.errors.map((e) => ({ path: e.path, message: e.message })) }
      : {};
    return { body: problem(status, err.code, err.message, extra), headers };
  }
  const e = err as FastifyLikeError;
  if (e?.validation) {
    const where = e.validationContext ?? 'body';
    const errors = e.validation.map((v) => ({
      path: `${where}${v.instancePath || ''}`,
      message: v.message ?? 'is not valid',
    }));
    const first = errors[0];
    return {
      body: problem(
        400,
        'VALIDATION_FAILED',
        first ? `${first.path} ${first.message}` : 'the request is not valid',
        {
          errors,
        },
      ),
      headers: {},
    };
  }
  const known = e?.code ? FASTIFY[e.code] : undefined;
  if (known) return { body: problem(known[0], known[1], known[2]), headers: {} };
  if (e instanceof SyntaxError || e?.statusCode === 400) {
    return { body: problem(400, 'MALFORMED_JSON', `the body is not valid JSON: ${e.message}`), headers: {} };
  }
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return { body: problem(e.statusCode, 'BAD_REQUEST', e.message), headers: {} };
  }
  const id = randomUUID();
  return {
    body: problem(500, 'INTERNAL', `internal error ${id}: the appliance's log has the details`),
    headers: {},
    internal: { id, err },
  };
}
