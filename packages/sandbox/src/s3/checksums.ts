import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { AwsError } from '../core/errors.js';

/** The additional checksums S3 verifies and stores (x-amz-checksum-<algorithm>), as AWS names them. */
export const ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Bytes of each algorithm's digest: a base64 value of another length is refused before any byte is read. */
const DIGEST_BYTES: Record<Algorithm, number> = { CRC32: 4, CRC32C: 4, SHA1: 20, SHA256: 32 };

export interface Hasher {
  update(data: Buffer): void;
  digest(): Buffer;
}

export function isAlgorithm(s: string): s is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(s);
}

/** "crc32" or "CRC32" as an algorithm; CRC64NVME and unknown names are refused as AWS refuses unknown ones. */
export function algorithmOf(name: string): Algorithm {
  const upper = name.toUpperCase();
  if (isAlgorithm(upper)) return upper;
  throw new AwsError('InvalidRequest', `Checksum algorithm ${name} is not supported by the sandbox.`, 400);
}

export function hasher(algorithm: Algorithm): Hasher {
  switch (algorithm) {
    case 'CRC32':
      return crcHasher((data, prev) => crc32(data, prev));
    case 'CRC32C':
      return crcHasher(crc32c);
    default:
      return hashHasher(createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256'));
  }
}

function crcHasher(step: (data: Buffer, prev: number) => number): Hasher {
  let value = 0;
  return {
    update: (data) => {
      value = step(data, value);
    },
    digest: () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(value >>> 0);
      return out;
    },
  };
}

function hashHasher(h: Hash): Hasher {
  return { update: (data) => h.update(data), digest: () => h.digest() };
}

export function checksumOf(algorithm: Algorithm, data: Buffer): string {
  const h = hasher(algorithm);
  h.update(data);
  return h.digest().toString('base64');
}

/** Refuses a declared value that cannot be a digest of the algorithm (AWS checks before the body). */
export function checkDeclared(algorithm: Algorithm, value: string): void {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== DIGEST_BYTES[algorithm] || bytes.toString('base64') !== value) {
    throw new AwsError(
      'InvalidRequest',
      `Value for x-amz-checksum-${algorithm.toLowerCase()} header is invalid.`,
      400,
    );
  }
}

/** A multipart object's COMPOSITE checksum: the checksum of the parts' binary checksums, then "-N". */
export function compositeChecksum(algorithm: Algorithm, partChecksums: string[]): string {
  const joined = Buffer.concat(partChecksums.map((c) => Buffer.from(c, 'base64')));
  return `${checksumOf(algorithm, joined)}-${partChecksums.length}`;
}

// CRC32C (Castagnoli, reflected 0x82F63B78), slicing by 4: zlib has only the IEEE polynomial.
const CRC32C_TABLES = (() => {
  const t = Array.from({ length: 4 }, () => new Uint32Array(256));
  const t0 = t[0] as Uint32Array;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 4; s++) {
      const prev = (t[s - 1] as Uint32Array)[i] as number;
      (t[s] as Uint32Array)[i] = ((prev >>> 8) ^ (t0[prev & 0xff] as number)) >>> 0;
    }
  }
  return t as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
})();

export function crc32c(data: Buffer, prev = 0): number {
  const [t0, t1, t2, t3] = CRC32C_TABLES;
  let c = ~prev >>> 0;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    c ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    c =
      (t3[c & 0xff] as number) ^
      (t2[(c >>> 8) & 0xff] as number) ^
      (t1[(c >>> 16) & 0xff] as number) ^
      (t0[c >>> 24] as number);
  }
  for (; i < data.length; i++) c = (t0[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
