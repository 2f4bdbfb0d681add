import { type Clock, sleepOn } from '../clock.js';

/** Error names AWS uses for throttling (EC2, S3, and the JSON protocols). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
]);

/** Transient server-side errors by name (5xx without a status, e.g. through a wrapper). */
const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Errors of the connection itself: nothing was answered. */
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export type RetryReason = 'throttling' | 'server' | 'network';

interface SdkLikeError {
  name?: string;
  code?: string;
  /** @lifeboat/aws's AwsCallError: AWS's error code and HTTP status, the SDK's error as its cause. */
  awsCode?: string;
  status?: number;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  $response?: { statusCode?: number };
  cause?: unknown;
}

/** Why an error is worth another attempt (AWS throttling, 5xx, the network), or undefined when it is not. */
export function retryReason(err: unknown): RetryReason | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as SdkLikeError;
  if (e.name === 'AbortError') return undefined;
  const name = e.name ?? '';
  const code = e.code ?? e.awsCode ?? '';
  const status =
    e.$metadata?.httpStatusCode ??
    e.$response?.statusCode ??
    (e.awsCode !== undefined ? e.status : undefined);
  if (THROTTLING.has(name) || THROTTLING.has(code) || status === 429 || e.$retryable?.throttling) {
    return 'throttling';
  }
  if (
    (status !== undefined && status >= 500 && status <= 599) ||
    TRANSIENT.has(name) ||
    TRANSIENT.has(code)
  ) {
    return 'server';
  }
  if (NETWORK.has(code) || NETWORK.has(name) || (err as Error).message === 'socket hang up') return 'network';
  if (e.$retryable) return 'server';
  // fetch wraps the socket's error: look one level down.
  if (e.cause && e.cause !== err && typeof e.cause === 'object') {
    const inner = retryReason(e.cause);
    if (inner === 'network') return inner;
  }
  return undefined;
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 6). */
  attempts?: number;
  /** The first backoff's ceiling (default 250 ms); it doubles per attempt... */
  baseMs?: number;
  /** ...up to this (default 20 s). */
  maxMs?: number;
}

export interface RetryContext extends RetryOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** [0, 1): Math.random by default (tests inject their own). */
  random?: () => number;
  /** Told before each wait. */
  onRetry?: (info: { attempt: number; reason: RetryReason; delayMs: number; error: unknown }) => void;
}

export const DEFAULT_RETRY = { attempts: 6, baseMs: 250, maxMs: 20_000 } as const;

/**
 * Runs `fn` until it succeeds, fails with an error that is not transient, or has used its attempts: AWS
 * throttling, 5xx and network errors are retried after a backoff with full jitter (a random wait between 0 and
 * min(max, base * 2^n)), slept on the appliance's clock and cut short by the signal (which rejects with its
 * reason). `fn` gets the attempt number, from 1.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, ctx: RetryContext): Promise<T> {
  const attempts = Math.max(1, ctx.attempts ?? DEFAULT_RETRY.attempts);
  const base = ctx.baseMs ?? DEFAULT_RETRY.baseMs;
  const max = ctx.maxMs ?? DEFAULT_RETRY.maxMs;
  const random = ctx.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      const reason = retryReason(err);
      if (reason === undefined || attempt >= attempts) throw err;
      const ceiling = Math.min(max, base * 2 ** (attempt - 1));
      const delayMs = Math.floor(random() * ceiling);
      ctx.onRetry?.({ attempt, reason, delayMs, error: err });
      await sleepOn(ctx.clock, delayMs, ctx.signal);
    }
  }
}
