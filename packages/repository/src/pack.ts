import { randomBytes } from 'node:crypto';
import type { MasterKey } from './crypto/keys.js';
import { open, sealToBuffer } from './crypto/seal.js';
import { RepositoryError } from './errors.js';
import { type BlobType, ID_BYTES, PACK_ID_BYTES } from './format.js';

/**
 * A pack: HEADER | blob ... | sealed trailer | trailer length (u32 LE).
 * The trailer lists every blob of the pack, so that the index can be rebuilt from packs alone.
 */
export const PACK_HEADER = Buffer.from('LBPACK\x00\x01', 'latin1');
const TRAILER_ENTRY = 1 + ID_BYTES + 12;

export interface IndexEntry {
  id: Buffer;
  type: BlobType;
  packId: string;
  offset: number;
  length: number;
  rawLength: number;
}

export function newPackId(): string {
  return randomBytes(PACK_ID_BYTES).toString('hex');
}

function trailerContext(packId: string): Buffer {
  return Buffer.from(`lifeboat/v1/pack/${packId}`);
}

/** Collects sealed blobs in memory until the pack is full; blobs of one pack share a type. */
export class PackBuilder {
  readonly packId = newPackId();
  readonly parts: Uint8Array[] = [PACK_HEADER];
  readonly entries: IndexEntry[] = [];
  size = PACK_HEADER.length;

  constructor(readonly type: BlobType) {}

  add(id: Buffer, sealed: readonly Uint8Array[], rawLength: number): IndexEntry {
    let length = 0;
    for (const p of sealed) {
      this.parts.push(p);
      length += p.length;
    }
    const entry: IndexEntry = {
      id,
      type: this.type,
      packId: this.packId,
      offset: this.size,
      length,
      rawLength,
    };
    this.entries.push(entry);
    this.size += length;
    return entry;
  }

  /** Appends the trailer; the returned parts are the whole pack. */
  finish(key: MasterKey): Uint8Array[] {
    const plain = Buffer.alloc(4 + this.entries.length * TRAILER_ENTRY);
    plain.writeUInt32LE(this.entries.length, 0);
    let o = 4;
    for (const e of this.entries) {
      plain[o] = e.type === 'data' ? 0 : 1;
      e.id.copy(plain, o + 1);
      plain.writeUInt32LE(e.offset, o + 33);
      plain.writeUInt32LE(e.length, o + 37);
      plain.writeUInt32LE(e.rawLength, o + 41);
      o += TRAILER_ENTRY;
    }
    const sealed = sealToBuffer(key.metaKey, trailerContext(this.packId), plain);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sealed.length, 0);
    this.parts.push(sealed, len);
    this.size += sealed.length + 4;
    return this.parts;
  }
}

/** Reads the trailer of a whole pack (check --read-data and index rebuilds). */
export function readPackTrailer(key: MasterKey, packId: string, pack: Buffer, what: string): IndexEntry[] {
  if (pack.length < PACK_HEADER.length + 4 || !pack.subarray(0, PACK_HEADER.length).equals(PACK_HEADER)) {
    throw new RepositoryError('REPO_CORRUPT', `${what} is not a v1 pack (bad header or truncated)`);
  }
  const tlen = pack.readUInt32LE(pack.length - 4);
  if (tlen + 4 + PACK_HEADER.length > pack.length) {
    throw new RepositoryError('REPO_CORRUPT', `${what} is truncated (trailer length ${tlen})`);
  }
  return decodeTrailer(key, packId, pack.subarray(pack.length - 4 - tlen, pack.length - 4), what);
}

/** Reads only the trailer of a stored pack (two ranged reads), e.g. to index a pack that no index file names. */
export async function fetchPackTrailer(
  key: MasterKey,
  store: { getRange(k: string, offset: number, length: number): Promise<Buffer> },
  objectKey: string,
  packId: string,
  size: number,
): Promise<IndexEntry[]> {
  if (size < PACK_HEADER.length + 4) throw new RepositoryError('REPO_CORRUPT', `${objectKey} is truncated`);
  const tlen = (await store.getRange(objectKey, size - 4, 4)).readUInt32LE(0);
  if (tlen + 4 + PACK_HEADER.length > size) {
    throw new RepositoryError('REPO_CORRUPT', `${objectKey} is truncated (trailer length ${tlen})`);
  }
  return decodeTrailer(
    key,
    packId,
    await store.getRange(objectKey, size - 4 - tlen, tlen),
    `pack ${objectKey}`,
  );
}

function decodeTrailer(key: MasterKey, packId: string, sealed: Buffer, what: string): IndexEntry[] {
  const plain = open(key.metaKey, trailerContext(packId), sealed, `${what} trailer`);
  const count = plain.readUInt32LE(0);
  if (plain.length !== 4 + count * TRAILER_ENTRY) {
    throw new RepositoryError('REPO_CORRUPT', `${what} trailer is malformed`);
  }
  const entries: IndexEntry[] = [];
  for (let i = 0, o = 4; i < count; i++, o += TRAILER_ENTRY) {
    entries.push({
      type: plain[o] === 0 ? 'data' : 'tree',
      id: Buffer.from(plain.subarray(o + 1, o + 33)),
      packId,
      offset: plain.readUInt32LE(o + 33),
      length: plain.readUInt32LE(o + 37),
      rawLength: plain.readUInt32LE(o + 41),
    });
  }
  return entries;
}
