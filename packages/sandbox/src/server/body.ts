import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import { alignedBlock, isAligned } from '../ebs/direct.js';

/**
 * Bodies of exactly one EBS block are read into reused buffers: a fresh 512 KiB allocation per PutSnapshotBlock
 * costs page faults and GC (much of the receive cost on a VM). Used only through readBody's release(). They are
 * aligned memory, so that the block engine writes them to disk with O_DIRECT (see ebs/direct.ts).
 */
const POOLED_SIZE = 524288;
const POOL_MAX = 64;
const pool: Buffer[] = [];
const NO_BODY = Buffer.alloc(0);

/** Gives a body buffer back to the pool once nothing refers to it (after the handler has settled). */
export function releaseBody(body: Buffer): void {
  // Only readBody makes 512 KiB bodies in aligned memory (socket chunks never are).
  const own = body.length === POOLED_SIZE && isAligned(body);
  if (own && pool.length < POOL_MAX) pool.push(body);
}

/** Reads a whole request body: into one buffer of Content-Length bytes when known (one copy per chunk). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // No length and no chunked encoding: HTTP/1.1 says there is no body (every GetSnapshotBlock).
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    return Promise.resolve(NO_BODY);
  }
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const known =
      req.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0;
    if (known && declared > limit) {
      reject(new AwsError('RequestEntityTooLarge', `Request body over ${limit} bytes`, 413));
      req.resume();
      return;
    }
    const whole = !known
      ? undefined
      : declared === POOLED_SIZE
        ? (pool.pop() ?? alignedBlock())
        : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let got = 0;
    req.on('data', (chunk: Buffer) => {
      if (whole && got + chunk.length <= whole.length) chunk.copy(whole, got);
      else chunks.push(chunk);
      got += chunk.length;
      if (got > limit)
        req.destroy(new AwsError('RequestEntityTooLarge', `Request body over ${limit} bytes`, 413));
    });
    req.on('end', () => {
      if (whole && got === whole.length) resolve(whole);
      else if (whole)
        reject(new AwsError('IncompleteBody', 'The body is not as long as Content-Length says', 400));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

type Chunk = string | Uint8Array;

function size(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  return chunk instanceof Uint8Array ? chunk.length : 0;
}

/** Counts the body bytes a handler writes (for the request counters). */
export function meterResponse(res: ServerResponse): () => number {
  let out = 0;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    out += size(chunk);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') out += size(chunk);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
  return () => out;
}

/** Delivers a response body at `bytesPerSecond` (fault injection: slow bandwidth), in 50 ms slices. */
export function paceResponse(res: ServerResponse, bytesPerSecond: number): void {
  const write = res.write.bind(res) as (chunk: Chunk) => boolean;
  const end = res.end.bind(res) as (chunk?: Chunk) => ServerResponse;
  const queue: Buffer[] = [];
  let ended = false;
  let draining = false;
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  const drain = () => {
    const head = queue[0];
    if (!head) {
      draining = false;
      if (ended) end();
      return;
    }
    const part = head.subarray(0, slice);
    if (part.length === head.length) queue.shift();
    else queue[0] = head.subarray(slice);
    write(part);
    setTimeout(drain, (part.length / bytesPerSecond) * 1000);
  };
  const push = (chunk: unknown) => {
    if (typeof chunk === 'string') queue.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array)
      queue.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  };
  res.write = ((chunk: unknown) => {
    push(chunk);
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown) => {
    ended = true;
    push(typeof chunk === 'function' ? undefined : chunk);
    return res;
  }) as ServerResponse['end'];
}

/** Counts the body bytes of a request left for its service to stream (for the request counters). */
export function meterRequest(req: IncomingMessage): () => number {
  let got = 0;
  const push = req.push.bind(req);
  // The HTTP parser hands every body chunk to push(): counting there sees what arrived, read or not.
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk instanceof Uint8Array) got += chunk.length;
    return push(chunk, encoding);
  };
  return () => got;
}
