/**
 * Errors of the appliance client (`lifeboat login`, `user`, `audit`, ...). Each carries the exit code scripts see:
 * README's codes, extended for the appliance (4 not authenticated or forbidden, 5 not found, 6 throttled or busy,
 * 9 conflict, 10 appliance unreachable or its certificate refused).
 */

export const APPLIANCE_EXIT = {
  failure: 1,
  usage: 2,
  auth: 4,
  notFound: 5,
  busy: 6,
  conflict: 9,
  unreachable: 10,
} as const;

/** Codes the client raises itself (the server's problem codes pass through unchanged). */
export type LocalApplianceCode =
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'CERTIFICATE_CHANGED'
  | 'CERTIFICATE_NOT_TRUSTED'
  | 'NOT_LOGGED_IN'
  | 'LOGIN_EXPIRED'
  | 'INSECURE_URL'
  | 'INVALID_RESPONSE'
  | 'HTTP_ERROR';

export interface ApplianceErrorOptions {
  /** The problem's `code`, or a local one. */
  code: string;
  exitCode: number;
  status?: number;
  cause?: unknown;
  /** Validation problems: `[{ path, message }]`. */
  errors?: Array<{ path?: string; message?: string }>;
}

export class ApplianceError extends Error {
  override name = 'ApplianceError';
  readonly code: string;
  readonly status?: number;
  readonly exitCode: number;
  readonly errors?: Array<{ path?: string; message?: string }>;

  constructor(message: string, options: ApplianceErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.exitCode = options.exitCode;
    if (options.status !== undefined) this.status = options.status;
    if (options.errors !== undefined) this.errors = options.errors;
  }
}

export function isApplianceError(err: unknown): err is ApplianceError {
  return err instanceof ApplianceError;
}

/** The exit code of an HTTP status the appliance answered with. */
export function exitCodeForStatus(status: number): number {
  switch (status) {
    case 401:
    case 403:
      return APPLIANCE_EXIT.auth;
    case 404:
      return APPLIANCE_EXIT.notFound;
    case 409:
    case 412:
      return APPLIANCE_EXIT.conflict;
    case 400:
    case 413:
    case 415:
    case 422:
      return APPLIANCE_EXIT.usage;
    case 429:
      return APPLIANCE_EXIT.busy;
    default:
      return APPLIANCE_EXIT.failure;
  }
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  errors?: Array<{ path?: string; message?: string }>;
}

/**
 * The error of a non-2xx answer: the problem's `detail` (for people) as the message and its `code`, with a hint
 * where one helps (log in again on 401, when to retry on 429).
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
): ApplianceError {
  const problem: Problem = body && typeof body === 'object' ? (body as Problem) : {};
  const code =
    typeof problem.code === 'string' && problem.code
      ? problem.code
      : status === 401
        ? 'UNAUTHENTICATED'
        : 'HTTP_ERROR';
  let message =
    typeof problem.detail === 'string' && problem.detail
      ? problem.detail
      : typeof problem.title === 'string' && problem.title
        ? problem.title
        : `the appliance answered HTTP ${status}`;
  if (Array.isArray(problem.errors) && problem.errors.length > 0) {
    const first = problem.errors
      .slice(0, 3)
      .map((e) => `${e.path || '/'}: ${e.message ?? 'invalid'}`)
      .join('; ');
    if (!message.includes(first)) message += ` (${first})`;
  }
  if (status === 401) message += ': run `lifeboat login`';
  if (status === 429) {
    const after = retryAfterSeconds(headers['retry-after']);
    if (after !== undefined) message += ` (retry in ${after} s)`;
  }
  return new ApplianceError(message, {
    code,
    status,
    exitCode: exitCodeForStatus(status),
    ...(Array.isArray(problem.errors) && { errors: problem.errors }),
  });
}

function retryAfterSeconds(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** True for errors of the connection itself (nothing was answered). */
export function isNetworkError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return (err as Error | undefined)?.message === 'socket hang up';
}

/** The error of a connection that failed: exit 10 with what to check. */
export function unreachable(server: string, err: unknown): ApplianceError {
  if (err instanceof ApplianceError) return err;
  const e = err as NodeJS.ErrnoException;
  const why = e?.code ?? e?.message ?? String(err);
  return new ApplianceError(
    `cannot reach the appliance at ${server}: ${why}; is \`lifeboat server\` running? set LIFEBOAT_SERVER`,
    {
      code: why === 'ETIMEDOUT' ? 'TIMEOUT' : 'UNREACHABLE',
      exitCode: APPLIANCE_EXIT.unreachable,
      cause: err,
    },
  );
}
