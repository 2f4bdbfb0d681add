import type { Codec } from '../compress.js';
import type { MasterKey } from '../crypto/keys.js';
import { open } from '../crypto/seal.js';
import { RepositoryError } from '../errors.js';
import { ID_BYTES, indexKey } from '../format.js';
import type { IndexEntry } from '../pack.js';

/**
 * Fixed-size binary index records, the unit of the local index cache (see paged.ts). 64 bytes so that a 4 KiB page
 * holds exactly 64 of them and a record never straddles a page:
 *
 *   0  blob id (32)       32 pack id (16)       48 type (u8: 0 data, 1 tree)
 *   49 source (u24 LE: which index file of the run named it)
 *   52 offset (u32 LE)    56 length (u32 LE)    60 raw length (u32 LE)
 *
 * Records are sorted by blob id (bytewise); ids are keyed HMACs, so their bytes are uniformly distributed.
 */
export const RECORD = 64;
export const MAX_SOURCES = 1 << 24;
const PACK_AT = 32;
const TYPE_AT = 48;
const SOURCE_AT = 49;
const OFFSET_AT = 52;

export function writeRecord(buf: Buffer, at: number, e: IndexEntry, source: number): void {
  e.id.copy(buf, at, 0, ID_BYTES);
  buf.write(e.packId, at + PACK_AT, 16, 'hex');
  buf[at + TYPE_AT] = e.type === 'data' ? 0 : 1;
  buf.writeUIntLE(source, at + SOURCE_AT, 3);
  buf.writeUInt32LE(e.offset, at + OFFSET_AT);
  buf.writeUInt32LE(e.length, at + OFFSET_AT + 4);
  buf.writeUInt32LE(e.rawLength, at + OFFSET_AT + 8);
}

export function readEntry(buf: Buffer, at: number): IndexEntry {
  return {
    id: Buffer.from(buf.subarray(at, at + ID_BYTES)),
    type: buf[at + TYPE_AT] === 0 ? 'data' : 'tree',
    packId: buf.toString('hex', at + PACK_AT, at + PACK_AT + 16),
    offset: buf.readUInt32LE(at + OFFSET_AT),
    length: buf.readUInt32LE(at + OFFSET_AT + 4),
    rawLength: buf.readUInt32LE(at + OFFSET_AT + 8),
  };
}

export function recordSource(buf: Buffer, at: number): number {
  return buf.readUIntLE(at + SOURCE_AT, 3);
}

export function setRecordSource(buf: Buffer, at: number, source: number): void {
  buf.writeUIntLE(source, at + SOURCE_AT, 3);
}

/** Compares a blob id with the id of the record at `at`: <0, 0, >0. */
export function compareId(id: Buffer, buf: Buffer, at: number): number {
  return id.compare(buf, at, at + ID_BYTES, 0, ID_BYTES);
}

export function asBuffer(id: Uint8Array): Buffer {
  return Buffer.isBuffer(id) ? id : Buffer.from(id.buffer, id.byteOffset, id.byteLength);
}

/** Sorts `count` records of buf in place by id (stable for equal ids). */
export function sortRecords(buf: Buffer, count: number): Buffer {
  // Sorting an index permutation by a 48-bit numeric prefix (exact in a double) keeps comparisons cheap;
  // equal prefixes (rare: ids are uniform) fall back to a full comparison.
  const prefix = new Float64Array(count);
  for (let i = 0; i < count; i++) prefix[i] = buf.readUIntBE(i * RECORD, 6);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => {
    const d = prefix[a]! - prefix[b]!;
    if (d !== 0) return d;
    return buf.compare(buf, b * RECORD, b * RECORD + ID_BYTES, a * RECORD, a * RECORD + ID_BYTES) || a - b;
  });
  const out = Buffer.allocUnsafe(count * RECORD);
  for (let i = 0; i < count; i++) buf.copy(out, i * RECORD, order[i]! * RECORD, (order[i]! + 1) * RECORD);
  return out;
}

export interface DecodedIndexRecords {
  supersedes: string[];
  count: number;
  /** Records [from, to) in file order (unsorted), source field 0; built on demand so that they are never all held. */
  slice(from: number, to: number): Buffer;
}

/**
 * Decodes an index file into records without an object per entry (a million entries cost 64 MB here instead of
 * ~200 MB of IndexEntry objects), slice by slice. Same format and checks as decodeIndexFile in file.ts;
 * test/index-records.test.ts checks that both agree.
 */
export function decodeIndexRecords(
  key: MasterKey,
  codec: Codec,
  id: string,
  sealed: Buffer,
): DecodedIndexRecords {
  const what = `index file ${indexKey(id)}`;
  const plain = open(key.metaKey, Buffer.from(indexKey(id)), sealed, what);
  let buf: Buffer;
  try {
    buf = codec.decompress(plain);
  } catch (cause) {
    throw new RepositoryError('REPO_CORRUPT', `${what} does not decompress`, { cause });
  }
  const fail = () => new RepositoryError('REPO_CORRUPT', `${what} is malformed`);
  const MAGIC = 'LBINDEX\x01';
  if (buf.length < MAGIC.length + 12 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw fail();
  let o = MAGIC.length;
  const u32 = (): number => {
    if (o + 4 > buf.length) throw fail();
    o += 4;
    return buf.readUInt32LE(o - 4);
  };
  const ns = u32();
  if (o + ns * 16 > buf.length) throw fail();
  const supersedes: string[] = [];
  for (let i = 0; i < ns; i++, o += 16) supersedes.push(buf.toString('hex', o, o + 16));
  const np = u32();
  if (o + np * 17 > buf.length) throw fail();
  const packsAt = o;
  o += np * 17;
  const count = u32();
  const ENTRY = ID_BYTES + 16;
  const entriesAt = o;
  if (entriesAt + count * ENTRY !== buf.length) throw fail();
  for (let i = 0; i < count; i++) if (buf.readUInt32LE(entriesAt + i * ENTRY + 32) >= np) throw fail();
  const slice = (from: number, to: number): Buffer => {
    const records = Buffer.alloc((to - from) * RECORD);
    for (let i = from, r = 0; i < to; i++, r += RECORD) {
      const e = entriesAt + i * ENTRY;
      const p = packsAt + buf.readUInt32LE(e + 32) * 17;
      buf.copy(records, r, e, e + ID_BYTES);
      buf.copy(records, r + PACK_AT, p, p + 16);
      records[r + TYPE_AT] = buf[p + 16] === 0 ? 0 : 1;
      buf.copy(records, r + OFFSET_AT, e + 36, e + 48);
    }
    return records;
  };
  return { supersedes, count, slice };
}
