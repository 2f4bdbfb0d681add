import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { BlockEngine } from './blocks.js';
import type { Account, Principal, RegionInfo } from './model.js';
import type { StateStore } from './state.js';

/**
 * How long things take, as AWS's do. Defaults are non-zero so that clients' waiters and retries run; the
 * benchmark knob sets every value to 0.
 */
export interface Timing {
  snapshotSeconds: number; // CreateSnapshot pending -> completed
  instanceSeconds: number; // pending -> running, stopping -> stopped, shutting-down -> terminated
  volumeSeconds: number; // creating -> available, attaching -> attached
  startSnapshotVisibilitySeconds: number; // "snapshot does not exist" window after StartSnapshot
}

export const DEFAULT_TIMING: Timing = {
  snapshotSeconds: 2,
  instanceSeconds: 2,
  volumeSeconds: 1,
  startSnapshotVisibilitySeconds: 1,
};

export const ZERO_TIMING: Timing = {
  snapshotSeconds: 0,
  instanceSeconds: 0,
  volumeSeconds: 0,
  startSnapshotVisibilitySeconds: 0,
};

/**
 * AWS's EC2 resource quotas that the sandbox enforces, always (as AWS does), at AWS's default values unless the
 * admin API (PUT /_sandbox/quotas) changes them.
 */
export interface Ec2Quotas {
  /** "Concurrent snapshot copies per destination Region", per account: copies count while pending. */
  concurrentSnapshotCopies: number;
  /** "Snapshots per Region", per account: every snapshot it owns there, whatever its state. */
  snapshotsPerRegion: number;
}

export const DEFAULT_EC2_QUOTAS: Ec2Quotas = { concurrentSnapshotCopies: 20, snapshotsPerRegion: 100_000 };

/** Eventual consistency of EC2's Describe calls (admin API: POST /_sandbox/consistency). */
export interface Consistency {
  /** Seconds of the sandbox clock for which a new snapshot is not yet returned by DescribeSnapshots. */
  describeLagSeconds: number;
}

/** The sandbox's adjustable behaviour, in memory (a restart returns to the defaults, as faults and quotas do). */
export interface Settings {
  ec2Quotas: Ec2Quotas;
  consistency: Consistency;
}

export function defaultSettings(): Settings {
  return { ec2Quotas: { ...DEFAULT_EC2_QUOTAS }, consistency: { describeLagSeconds: 0 } };
}

/** Everything a service needs, shared by all services of one sandbox. */
export interface SandboxContext {
  readonly state: StateStore;
  readonly blocks: BlockEngine;
  readonly accounts: readonly Account[];
  readonly regions: readonly RegionInfo[];
  readonly timing: Timing;
  /** Quotas and consistency the admin API adjusts; services read them on every call. */
  readonly settings: Settings;
  /** Milliseconds since the epoch; one clock for every service so that tests can reason about time. */
  now(): number;
  /** Fresh resource id with AWS's shape: prefix + 17 lowercase hex digits (e.g. vol-0a1b...). */
  newId(prefix: string): string;
  /**
   * Request counters for cost accounting (per service and operation). The server already counts every AWS
   * request it routes (bytes in and out included): services must not count their own requests again.
   */
  count(service: string, operation: string, bytesIn: number, bytesOut: number): void;
}

/** One authenticated AWS request, routed by its SigV4 credential scope. */
export interface AwsRequest {
  readonly method: string;
  readonly path: string; // decoded path, without the query string
  readonly rawPath: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /**
   * The whole body; services whose bodies are large (S3) read the stream instead (part 2). Valid only until
   * handle() settles: the server reuses block-sized body buffers.
   */
  readonly body: Buffer;
  /** SHA-256 of body when SigV4 verification already computed it (a signed payload hash), so EBS need not again. */
  readonly bodySha256?: Buffer;
  readonly service: string; // SigV4 scope: ec2, ebs, s3, kms, sts, iam
  readonly region: string;
  readonly principal: Principal;
  readonly requestId: string;
  /**
   * For services with `streamingBody`: the unread request body (body is then empty). The service reads it and
   * checks payloadHash itself, since the server could not hash what it did not read.
   */
  readonly stream?: IncomingMessage;
  /** The payload hash the client declared (x-amz-content-sha256, or a presigned URL's), when it declared one. */
  readonly payloadHash?: string;
  /** What verifying aws-chunked chunk signatures needs (STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies). */
  readonly chunkSigning?: ChunkSigning;
}

/** The signing key and seed signature that chain an aws-chunked body's chunk signatures to the request's. */
export interface ChunkSigning {
  readonly key: Buffer;
  readonly seedSignature: string;
  readonly amzDate: string;
  readonly scope: string; // date/region/service/aws4_request
}

export interface Service {
  /** SigV4 scope name this service answers. */
  readonly name: string;
  /**
   * Bodies are left unread for the service to stream (S3 objects of many GB): AwsRequest.stream is set, and the
   * payload hash the client declared is trusted for the signature and left for the service to check.
   */
  readonly streamingBody?: boolean;
  /** Answers the request completely (status, headers, body), including errors in the service's own shape. */
  handle(req: AwsRequest, res: ServerResponse, ctx: SandboxContext): Promise<void>;
  /** The operation name for counters and fault injection (e.g. "GetSnapshotBlock"), if recognised. */
  operationOf(req: AwsRequest): string | undefined;
}
