import { createHash } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { AwsRequest } from '../core/service.js';
import { type Algorithm, algorithmOf, checkDeclared, type Hasher, hasher } from './checksums.js';
import { ChunkDecoder } from './chunked.js';
import { invalidRequest } from './errors.js';
import type { ObjectFiles, TempFile } from './storage.js';

/** What a request says about its body, read from the headers before any byte of it. */
interface Claims {
  chunked: boolean;
  size?: number; // decoded size, when declared
  sha256?: string; // hex, when x-amz-content-sha256 is a real hash
  md5?: string; // base64 Content-MD5
  algorithm?: Algorithm;
  checksum?: string; // declared value in a header; or in a trailer (trailer: true)
  trailer: boolean;
}

export interface Digests {
  size: number;
  md5: string; // hex: a single PUT's ETag
  checksum?: { algorithm: Algorithm; value: string };
}

const header = (req: AwsRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function declaredSize(req: AwsRequest, chunked: boolean): number | undefined {
  const raw = header(req, chunked ? 'x-amz-decoded-content-length' : 'content-length');
  if (raw === undefined) {
    if (chunked || header(req, 'transfer-encoding') === undefined) {
      throw new AwsError('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
    }
    return undefined;
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw invalidRequest(`Invalid ${chunked ? 'x-amz-decoded-content-length' : 'Content-Length'}`);
  return n;
}

function declaredChecksum(
  req: AwsRequest,
  fallback?: Algorithm,
): Pick<Claims, 'algorithm' | 'checksum' | 'trailer'> {
  const names = Object.keys(req.headers).filter(
    (h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-type' && h !== 'x-amz-checksum-algorithm',
  );
  if (names.length > 1)
    throw invalidRequest(
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  const name = names[0];
  if (name) {
    const algorithm = algorithmOf(name.slice(15));
    const checksum = header(req, name) as string;
    checkDeclared(algorithm, checksum);
    return { algorithm, checksum, trailer: false };
  }
  const trailer = header(req, 'x-amz-trailer');
  if (trailer?.startsWith('x-amz-checksum-'))
    return { algorithm: algorithmOf(trailer.slice(15)), trailer: true };
  const sdk = header(req, 'x-amz-sdk-checksum-algorithm');
  return { algorithm: sdk ? algorithmOf(sdk) : fallback, trailer: false };
}

function claimsOf(req: AwsRequest, fallback?: Algorithm): Claims {
  const chunked =
    !!req.payloadHash?.startsWith('STREAMING-') || !!header(req, 'content-encoding')?.includes('aws-chunked');
  const md5 = header(req, 'content-md5');
  if (md5 !== undefined && Buffer.from(md5, 'base64').length !== 16) {
    throw new AwsError('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400, {
      'Content-MD5': md5,
    });
  }
  const sha256 =
    req.payloadHash && /^[0-9a-fA-F]{64}$/.test(req.payloadHash) ? req.payloadHash.toLowerCase() : undefined;
  return { chunked, size: declaredSize(req, chunked), sha256, md5, ...declaredChecksum(req, fallback) };
}

/** Whether the request declares an integrity value (Object Lock and DeleteObjects insist on one). */
export function hasIntegrityHeader(req: AwsRequest): boolean {
  return (
    Object.keys(req.headers).some(
      (h) => h === 'content-md5' || (h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-type'),
    ) ||
    !!header(req, 'x-amz-trailer')?.startsWith('x-amz-checksum-') ||
    !!header(req, 'x-amz-sdk-checksum-algorithm')
  );
}

/**
 * Reads the request body, de-chunking aws-chunked framing as it arrives, into `sink`, hashing on the way (MD5
 * always, SHA-256 when the client signed a real hash, the declared checksum), and checks every claim at the end.
 */
export async function consumeBody(
  req: AwsRequest,
  sink: (chunk: Buffer) => Promise<void> | void,
  opts: { maxSize: number; algorithm?: Algorithm },
): Promise<Digests> {
  const claims = claimsOf(req, opts.algorithm);
  if (claims.size !== undefined && claims.size > opts.maxSize) {
    throw new AwsError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, {
      ProposedSize: String(claims.size),
      MaxSizeAllowed: String(opts.maxSize),
    });
  }
  const decoder = claims.chunked ? new ChunkDecoder(req.chunkSigning) : undefined;
  const md5 = createHash('md5');
  const sha = claims.sha256 ? createHash('sha256') : undefined;
  const sum: Hasher | undefined = claims.algorithm ? hasher(claims.algorithm) : undefined;
  let size = 0;
  for await (const raw of req.stream ?? []) {
    sha?.update(raw as Buffer);
    for (const data of decoder ? decoder.push(raw as Buffer) : [raw as Buffer]) {
      size += data.length;
      if (size > opts.maxSize)
        throw new AwsError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400);
      md5.update(data);
      sum?.update(data);
      await sink(data);
    }
  }
  decoder?.finish();
  const digests: Digests = { size, md5: md5.digest('hex') };
  if (claims.algorithm && sum)
    digests.checksum = { algorithm: claims.algorithm, value: sum.digest().toString('base64') };
  verify(claims, digests, sha?.digest('hex'), decoder?.trailers);
  return digests;
}

function verify(
  claims: Claims,
  d: Digests,
  sha256: string | undefined,
  trailers?: Map<string, string>,
): void {
  if (claims.size !== undefined && d.size !== claims.size) {
    throw new AwsError(
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header',
      400,
    );
  }
  if (claims.sha256 && sha256 !== claims.sha256) {
    throw new AwsError(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      400,
      {
        ClientComputedContentSHA256: claims.sha256,
        S3ComputedContentSHA256: sha256 ?? '',
      },
    );
  }
  if (claims.md5 && Buffer.from(d.md5, 'hex').toString('base64') !== claims.md5) {
    throw new AwsError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, {
      ExpectedDigest: claims.md5,
      CalculatedDigest: Buffer.from(d.md5, 'hex').toString('base64'),
    });
  }
  const algorithm = claims.algorithm;
  if (!algorithm || !d.checksum) return;
  const declared = claims.trailer
    ? trailers?.get(`x-amz-checksum-${algorithm.toLowerCase()}`)
    : claims.checksum;
  if (claims.trailer && declared === undefined)
    throw invalidRequest(`The x-amz-checksum-${algorithm.toLowerCase()} trailer is missing.`);
  if (declared !== undefined && declared !== d.checksum.value) {
    throw new AwsError(
      'BadDigest',
      `The ${algorithm} you specified did not match the calculated checksum.`,
      400,
    );
  }
}

/** A body streamed to a temp file; the caller commits it (rename) or discards it. */
export async function receiveToFile(
  req: AwsRequest,
  files: ObjectFiles,
  opts: { maxSize: number; algorithm?: Algorithm },
): Promise<{ temp: TempFile; digests: Digests }> {
  const temp = await files.create();
  try {
    const digests = await consumeBody(req, (c) => temp.write(c), opts);
    await temp.finish();
    return { temp, digests };
  } catch (e) {
    await temp.discard();
    throw e;
  }
}

/** A small body (XML, JSON policy) in memory, verified like any other. */
export async function readSmallBody(req: AwsRequest, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await consumeBody(req, (c) => void chunks.push(Buffer.from(c)), { maxSize: limit });
  return Buffer.concat(chunks);
}
