import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Codec } from '../src/compress.js';
import { deriveMasterKey, newMasterSecret } from '../src/crypto/keys.js';
import { indexKey } from '../src/format.js';
import { type IndexCacheSource, openPagedIndex, type PagedIndexOptions } from '../src/index/cache.js';
import { encodeIndexFile, newIndexId } from '../src/index/file.js';
import type { IndexEntry } from '../src/pack.js';
import { LocalStore } from '../src/store/local.js';
import type { Store } from '../src/store/store.js';

/** A store that counts the objects read, to see what the cache saved. */
export class CountingStore extends LocalStore {
  gets = 0;
  override async get(key: string): Promise<Buffer> {
    this.gets++;
    return super.get(key);
  }
}

export function fakeEntries(n: number, packs = 4): IndexEntry[] {
  const packIds = Array.from({ length: packs }, () => randomBytes(16).toString('hex'));
  return Array.from({ length: n }, (_, i) => ({
    id: randomBytes(32),
    type: i % 7 === 0 ? ('tree' as const) : ('data' as const),
    packId: packIds[i % packs]!,
    offset: i * 100,
    length: 90 + (i % 50),
    rawLength: 524288,
  }));
}

export class IndexFixture {
  readonly key = deriveMasterKey(newMasterSecret(), '0123456789abcdef0123456789abcdef');
  readonly codec = new Codec();
  readonly store: CountingStore;
  readonly cache: string;

  constructor(readonly dir: string) {
    this.store = new CountingStore(join(dir, 'repo'));
    this.cache = join(dir, 'cache');
  }

  get src(): IndexCacheSource {
    return {
      repository: '0123456789abcdef0123456789abcdef',
      store: this.store as Store,
      key: this.key,
      codec: this.codec,
    };
  }

  /** Writes an index file (entries typed by their pack: one type per pack). */
  async write(entries: IndexEntry[], supersedes: string[] = []): Promise<string> {
    const id = newIndexId();
    const fixed = entries.map((e) => ({ ...e, type: 'data' as const }));
    await this.store.put(
      indexKey(id),
      encodeIndexFile(this.key, this.codec, { id, supersedes, entries: fixed }),
    );
    return id;
  }

  async open(options: PagedIndexOptions = {}) {
    this.store.gets = 0;
    return openPagedIndex(this.src, this.cache, options);
  }
}
