import type { Codec } from './compress.js';
import type { MasterKey } from './crypto/keys.js';
import { idFromDigest, open, SEAL_OVERHEAD, seal, sha256 } from './crypto/seal.js';
import { RepositoryError } from './errors.js';

/**
 * A blob is one chunk of disk data or one tree node, stored sealed inside a pack:
 * seal(blobKey, id, [compression byte, payload]). Compression 0 = stored raw, 1 = zstd.
 */
const RAW = 0;
const ZSTD = 1;
const FLAG = [Buffer.from([RAW]), Buffer.from([ZSTD])] as const;

/**
 * Compresses when that saves at least 1/64 of the size (not worth a decompression otherwise), then seals. The
 * compressed bytes live in the codec's scratch buffer only until seal has consumed them.
 */
export function sealBlob(key: MasterKey, codec: Codec, id: Uint8Array, plain: Uint8Array): Buffer[] {
  const packed = codec.compressTransient(plain);
  const useZstd = packed.length < plain.length - (plain.length >> 6);
  return seal(key.blobKey, id, useZstd ? [FLAG[ZSTD], packed] : [FLAG[RAW], plain]);
}

export function sealedLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/**
 * Opens a blob, checks its length and (with verifyId) that its content hashes to its id, so that no wrong data
 * is ever returned as right. A compressed blob is decompressed into `into` when given and large enough (a
 * reused block buffer); the result is then a view of it.
 */
export function openBlob(
  key: MasterKey,
  codec: Codec,
  id: Uint8Array,
  sealed: Uint8Array,
  rawLength: number,
  verifyId: boolean,
  what: string,
  into?: Buffer,
): Buffer {
  if (sealed.length < SEAL_OVERHEAD + 1) throw new RepositoryError('REPO_CORRUPT', `${what} is truncated`);
  const inner = open(key.blobKey, id, sealed, what);
  const flag = inner[0];
  let plain: Buffer;
  if (flag === RAW) plain = inner.subarray(1);
  else if (flag === ZSTD) {
    try {
      plain =
        into && rawLength <= into.length
          ? into.subarray(0, codec.decompressInto(into, inner.subarray(1)))
          : codec.decompress(inner.subarray(1));
    } catch (cause) {
      throw new RepositoryError('REPO_CORRUPT', `${what} does not decompress`, { cause });
    }
  } else throw new RepositoryError('REPO_CORRUPT', `${what} has an unknown compression ${flag}`);
  if (plain.length !== rawLength) {
    throw new RepositoryError(
      'REPO_CORRUPT',
      `${what} has ${plain.length} bytes, the index says ${rawLength}`,
    );
  }
  if (verifyId && !idFromDigest(key.idKey, sha256(plain)).equals(id)) {
    throw new RepositoryError('REPO_CORRUPT', `${what} does not match its id`);
  }
  return plain;
}

/** Blob ids of content: see crypto/seal.ts idFromDigest. */
export function blobId(key: MasterKey, plain: Uint8Array): Buffer {
  return idFromDigest(key.idKey, sha256(plain));
}
