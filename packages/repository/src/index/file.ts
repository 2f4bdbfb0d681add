import { randomBytes } from 'node:crypto';
import type { Codec } from '../compress.js';
import type { MasterKey } from '../crypto/keys.js';
import { open, sealToBuffer } from '../crypto/seal.js';
import { RepositoryError } from '../errors.js';
import { ID_BYTES, indexKey } from '../format.js';
import type { IndexEntry } from '../pack.js';

/**
 * An index file (meta/index/<id>) maps blob ids to their place in packs. It is written after the packs it names
 * are stored, never changed afterwards; `supersedes` lets a later compaction replace older index files (readers
 * ignore a superseded file) before they are deleted.
 *
 * Plaintext: MAGIC | u32 n + n x 16-byte superseded index ids | u32 p + p x (16-byte pack id, u8 type)
 *            | u32 e + e x (32-byte blob id, u32 pack number, u32 offset, u32 length, u32 raw length);
 * then zstd-compressed and sealed with the metadata key under the object's key.
 */
const MAGIC = Buffer.from('LBINDEX\x01', 'latin1');
const ENTRY = ID_BYTES + 16;

export interface IndexFile {
  id: string;
  supersedes: string[];
  entries: IndexEntry[];
}

export function newIndexId(): string {
  return randomBytes(16).toString('hex');
}

export function encodeIndexFile(key: MasterKey, codec: Codec, file: IndexFile): Buffer {
  const packs = new Map<string, number>();
  for (const e of file.entries) if (!packs.has(e.packId)) packs.set(e.packId, packs.size);
  const size =
    MAGIC.length + 4 + file.supersedes.length * 16 + 4 + packs.size * 17 + 4 + file.entries.length * ENTRY;
  const buf = Buffer.alloc(size);
  let o = MAGIC.copy(buf, 0);
  o = buf.writeUInt32LE(file.supersedes.length, o);
  for (const s of file.supersedes) o += Buffer.from(s, 'hex').copy(buf, o);
  o = buf.writeUInt32LE(packs.size, o);
  const types = new Map(file.entries.map((e) => [e.packId, e.type]));
  for (const p of packs.keys()) {
    o += Buffer.from(p, 'hex').copy(buf, o);
    buf[o++] = types.get(p) === 'data' ? 0 : 1;
  }
  o = buf.writeUInt32LE(file.entries.length, o);
  for (const e of file.entries) {
    o += e.id.copy(buf, o);
    o = buf.writeUInt32LE(packs.get(e.packId)!, o);
    o = buf.writeUInt32LE(e.offset, o);
    o = buf.writeUInt32LE(e.length, o);
    o = buf.writeUInt32LE(e.rawLength, o);
  }
  return sealToBuffer(key.metaKey, Buffer.from(indexKey(file.id)), codec.compress(buf));
}

export function decodeIndexFile(key: MasterKey, codec: Codec, id: string, sealed: Buffer): IndexFile {
  const what = `index file ${indexKey(id)}`;
  const buf = decompress(codec, open(key.metaKey, Buffer.from(indexKey(id)), sealed, what), what);
  const fail = () => new RepositoryError('REPO_CORRUPT', `${what} is malformed`);
  if (buf.length < MAGIC.length + 12 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw fail();
  let o = MAGIC.length;
  const need = (n: number) => {
    if (o + n > buf.length) throw fail();
  };
  need(4);
  const ns = buf.readUInt32LE(o);
  o += 4;
  need(ns * 16 + 4);
  const supersedes: string[] = [];
  for (let i = 0; i < ns; i++, o += 16) supersedes.push(buf.toString('hex', o, o + 16));
  const np = buf.readUInt32LE(o);
  o += 4;
  need(np * 17 + 4);
  const packs: Array<{ id: string; type: 'data' | 'tree' }> = [];
  for (let i = 0; i < np; i++, o += 17)
    packs.push({ id: buf.toString('hex', o, o + 16), type: buf[o + 16] === 0 ? 'data' : 'tree' });
  const ne = buf.readUInt32LE(o);
  o += 4;
  need(ne * ENTRY);
  const entries: IndexEntry[] = [];
  for (let i = 0; i < ne; i++, o += ENTRY) {
    const pack = packs[buf.readUInt32LE(o + 32)];
    if (!pack) throw fail();
    entries.push({
      id: Buffer.from(buf.subarray(o, o + 32)),
      packId: pack.id,
      type: pack.type,
      offset: buf.readUInt32LE(o + 36),
      length: buf.readUInt32LE(o + 40),
      rawLength: buf.readUInt32LE(o + 44),
    });
  }
  if (o !== buf.length) throw fail();
  return { id, supersedes, entries };
}

function decompress(codec: Codec, data: Buffer, what: string): Buffer {
  try {
    return codec.decompress(data);
  } catch (cause) {
    throw new RepositoryError('REPO_CORRUPT', `${what} does not decompress`, { cause });
  }
}

/** Entries per index file written by compaction: a reader decodes a file whole, so files stay small. */
export const INDEX_FILE_MAX_ENTRIES = 65536;

/**
 * Writes entries as index files of at most INDEX_FILE_MAX_ENTRIES, the one naming `supersedes` last: a crash in
 * between leaves duplicates (harmless), never superseded files whose entries are not yet written elsewhere.
 */
export async function writeIndexFiles(
  store: { put(key: string, data: Uint8Array): Promise<void> },
  key: MasterKey,
  codec: Codec,
  entries: readonly IndexEntry[],
  supersedes: readonly string[],
): Promise<string[]> {
  const ids: string[] = [];
  const chunks = Math.max(1, Math.ceil(entries.length / INDEX_FILE_MAX_ENTRIES));
  for (let i = 0; i < chunks; i++) {
    const id = newIndexId();
    const part = entries.slice(i * INDEX_FILE_MAX_ENTRIES, (i + 1) * INDEX_FILE_MAX_ENTRIES);
    const last = i === chunks - 1;
    await store.put(
      indexKey(id),
      encodeIndexFile(key, codec, { id, supersedes: last ? [...supersedes] : [], entries: part }),
    );
    ids.push(id);
  }
  return ids;
}
