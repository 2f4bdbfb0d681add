import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { blobId, openBlob } from './blob.js';
import { Codec } from './compress.js';
import { checkpoint } from './crash.js';
import {
  createKekSlot,
  createPasswordSlot,
  deriveMasterKey,
  type KeySlot,
  type MasterKey,
  newMasterSecret,
  newRecoveryKey,
  openKekSlot,
  openPasswordSlot,
  parseRecoveryKey,
  type ScryptCost,
  validateSlot,
} from './crypto/keys.js';
import { open, sealToBuffer } from './crypto/seal.js';
import { isRepositoryError, RepositoryError } from './errors.js';
import {
  CHUNK_SIZE,
  CONFIG_KEY,
  FORMAT_NAME,
  FORMAT_VERSION,
  KEYS_PREFIX,
  keySlotKey,
  POINTS_PREFIX,
  packKey,
} from './format.js';
import { defaultCacheRoot, indexCacheDir, openPagedIndex, type PagedIndexOptions } from './index/cache.js';
import { type BlobIndex, loadMemoryIndex } from './index/master.js';
import type { PagedBlobIndex } from './index/paged.js';
import { decodeManifest, type Manifest } from './manifest.js';
import type { IndexEntry } from './pack.js';
import type { ObjectInfo, Store } from './store/store.js';
import { mapLimit } from './util.js';

/** The only unencrypted object besides key slots: enough to refuse a format this build cannot read. */
export interface RepositoryConfig {
  format: typeof FORMAT_NAME;
  version: number;
  id: string;
  created: string;
  chunkSize: number;
}

/** Where the index of blob locations lives while the repository is open (docs/repository-format.md, index cache). */
export interface IndexOptions {
  /** Root of the local index cache: default $LIFEBOAT_CACHE, $XDG_CACHE_HOME/lifeboat or ~/.cache/lifeboat. */
  cacheDir?: string;
  /** "memory" holds the whole index in RAM (~120 bytes per blob; also LIFEBOAT_INDEX=memory). Default "paged". */
  index?: 'paged' | 'memory';
  /** Tuning of the paged index (tests). */
  paged?: PagedIndexOptions;
}

export interface InitOptions extends IndexOptions {
  /** scrypt cost; tests may lower it, the CLI never does. */
  kdfCost?: ScryptCost;
}

export class Repository {
  readonly codec = new Codec();
  /** The time, for leases, sessions and prune; tests replace it to step through time. */
  now: () => number = Date.now;
  private index: BlobIndex | undefined;
  private indexLoading: Promise<BlobIndex> | undefined;

  private constructor(
    readonly store: Store,
    readonly config: RepositoryConfig,
    readonly key: MasterKey,
    readonly slotId: string,
    private readonly kdfCost?: InitOptions['kdfCost'],
    private readonly indexOptions: IndexOptions = {},
  ) {}

  get id(): string {
    return this.config.id;
  }

  /** Creates a repository: the key slot first, the config last, so that a half-made repository is never opened. */
  static async init(store: Store, password: string, options: InitOptions = {}): Promise<Repository> {
    if (await store.stat(CONFIG_KEY)) {
      throw new RepositoryError('REPO_EXISTS', `a repository already exists at ${store.location}`);
    }
    const config: RepositoryConfig = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      id: randomBytes(16).toString('hex'),
      created: new Date().toISOString(),
      chunkSize: CHUNK_SIZE,
    };
    const secret = newMasterSecret();
    const slot = await createPasswordSlot(config.id, secret, password, { cost: options.kdfCost });
    await store.put(keySlotKey(slot.id), Buffer.from(JSON.stringify(slot, null, 2)));
    const recovery = newRecoveryKey();
    const rslot = createKekSlot(config.id, secret, recovery.key, 'recovery', {
      label: 'operator recovery key',
    });
    await store.put(keySlotKey(rslot.id), Buffer.from(JSON.stringify(rslot, null, 2)));
    await checkpoint('init:key-slot-stored');
    await store.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2)));
    const repo = new Repository(
      store,
      config,
      deriveMasterKey(secret, config.id),
      slot.id,
      options.kdfCost,
      options,
    );
    repo.recoveryKey = recovery.text;
    return repo;
  }

  static async readConfig(store: Store): Promise<RepositoryConfig> {
    let raw: Buffer;
    try {
      raw = await store.get(CONFIG_KEY);
    } catch (err) {
      if (isRepositoryError(err, 'NOT_FOUND')) {
        throw new RepositoryError(
          'REPO_NOT_FOUND',
          `there is no Lifeboat repository at ${store.location} (no config object); create one with "lifeboat repo init"`,
        );
      }
      throw err;
    }
    let config: RepositoryConfig;
    try {
      config = JSON.parse(raw.toString('utf8')) as RepositoryConfig;
    } catch (cause) {
      throw new RepositoryError('REPO_CORRUPT', `the config of ${store.location} is not valid JSON`, {
        cause,
      });
    }
    if (typeof config !== 'object' || config === null || config.format !== FORMAT_NAME) {
      throw new RepositoryError(
        'REPO_CORRUPT',
        `${store.location} does not hold a Lifeboat repository (its config is damaged or of another program)`,
      );
    }
    if (!Number.isSafeInteger(config.version) || config.version < 1) {
      throw new RepositoryError('REPO_CORRUPT', `the config of ${store.location} is malformed (version)`);
    }
    if (config.version !== FORMAT_VERSION) {
      throw new RepositoryError(
        'REPO_VERSION',
        `the repository at ${store.location} has format version ${config.version}; this build of Lifeboat reads version ${FORMAT_VERSION} only: use a Lifeboat release that supports it`,
      );
    }
    if (
      config.chunkSize !== CHUNK_SIZE ||
      typeof config.id !== 'string' ||
      !/^[0-9a-f]{32}$/.test(config.id)
    ) {
      throw new RepositoryError('REPO_CORRUPT', `the config of ${store.location} is malformed`);
    }
    return config;
  }

  static async open(store: Store, password: string, options: IndexOptions = {}): Promise<Repository> {
    return Repository.openWith(store, [passwordUnlocker(password)], options);
  }

  /**
   * Opens with the first unlocker that opens one of the key slots: a password, the recovery key, a KMS key (the
   * AWS adapter provides that unlocker: the repository knows nothing of KMS).
   */
  static async openWith(
    store: Store,
    unlockers: readonly Unlocker[],
    options: IndexOptions = {},
  ): Promise<Repository> {
    const config = await Repository.readConfig(store);
    const { slots, damaged } = await scanSlots(store);
    if (slots.length === 0) {
      throw new RepositoryError(
        'REPO_CORRUPT',
        damaged.length
          ? `no key slot of the repository at ${store.location} can be read: ${damaged.map((d) => d.message).join('; ')}`
          : `the repository at ${store.location} has no key slots`,
      );
    }
    let unknown: RepositoryError | undefined; // a slot of a newer build: reported if no other slot opens
    for (const unlocker of unlockers) {
      for (const slot of slots.filter((s) => s.kind === unlocker.kind)) {
        const secret = await unlocker.open(config.id, slot).catch((err: unknown) => {
          if (!isRepositoryError(err, 'KEY_SLOT')) throw err;
          unknown = err;
          return undefined;
        });
        if (secret)
          return new Repository(
            store,
            config,
            deriveMasterKey(secret, config.id),
            slot.id,
            undefined,
            options,
          );
      }
    }
    if (unknown) throw unknown;
    const tried = unlockers.map((u) => u.what).join(' or ');
    const kinds = [...new Set(slots.map((s) => s.kind))].join(', ');
    if (damaged.length) {
      // The slot it would have opened may be the one that cannot be read: that is damage, not a wrong secret.
      throw new RepositoryError(
        'REPO_CORRUPT',
        `the ${tried} opens none of the readable key slots of the repository at ${store.location}, and ${damaged.map((d) => d.message).join('; ')}: try another slot or the recovery key`,
      );
    }
    throw new RepositoryError(
      'WRONG_PASSWORD',
      `the ${tried} does not open the repository at ${store.location} (its ${slots.length} key slot${slots.length > 1 ? 's are' : ' is'} of kind ${kinds}): wrong ${tried} or damaged key slot: try another slot or the recovery key`,
    );
  }

  /** The recovery key made by init, shown once to the operator; undefined on a repository opened later. */
  recoveryKey: string | undefined;

  // ---- small sealed metadata objects (sessions, leases, prune plans) ----

  async putMeta(key: string, value: unknown): Promise<void> {
    await this.store.put(
      key,
      sealToBuffer(this.key.metaKey, Buffer.from(key), Buffer.from(JSON.stringify(value))),
    );
  }

  async getMeta<T>(key: string): Promise<T> {
    const plain = open(this.key.metaKey, Buffer.from(key), await this.store.get(key), key);
    try {
      return JSON.parse(plain.toString('utf8')) as T;
    } catch (cause) {
      throw new RepositoryError('REPO_CORRUPT', `${key} is not valid JSON`, { cause });
    }
  }

  /** Every readable object under prefix, decoded; unreadable ones are returned apart (a check reports them). */
  async listMeta<T>(
    prefix: string,
  ): Promise<{ items: Array<{ key: string; value: T; info: ObjectInfo }>; bad: string[] }> {
    const infos: ObjectInfo[] = [];
    for await (const o of this.store.list(prefix)) infos.push(o);
    const bad: string[] = [];
    const items = await mapLimit(infos, 8, async (info) => {
      try {
        return { key: info.key, value: await this.getMeta<T>(info.key), info };
      } catch (err) {
        if (isRepositoryError(err, 'NOT_FOUND')) return undefined; // deleted while listing
        if (!isRepositoryError(err, 'REPO_CORRUPT')) throw err;
        bad.push(info.key);
        return undefined;
      }
    });
    return { items: items.filter((i) => i !== undefined), bad };
  }

  // ---- key slots ----

  /** The key slots that can be read (a damaged slot file is left out: `damagedKeySlots` names those). */
  async keySlots(): Promise<KeySlot[]> {
    return (await scanSlots(this.store)).slots;
  }

  /** Key slot files that do not parse as key slots: damaged (check reports them). */
  async damagedKeySlots(): Promise<RepositoryError[]> {
    return (await scanSlots(this.store)).damaged;
  }

  /** Stores a key slot made elsewhere (a KMS slot from the AWS adapter). */
  async addSlot(slot: KeySlot): Promise<KeySlot> {
    await this.store.put(keySlotKey(slot.id), Buffer.from(JSON.stringify(slot, null, 2)));
    await checkpoint('passwd:slot-added');
    return slot;
  }

  async addPassword(password: string, label?: string): Promise<KeySlot> {
    const slot = await createPasswordSlot(this.id, this.key.secret, password, { label, cost: this.kdfCost });
    await this.store.put(keySlotKey(slot.id), Buffer.from(JSON.stringify(slot, null, 2)));
    await checkpoint('passwd:slot-added');
    return slot;
  }

  /** Removes a key slot; the last slot is never removed (the repository would be lost). */
  async removeSlot(slotId: string): Promise<void> {
    const slots = await this.keySlots();
    if (!slots.some((s) => s.id === slotId)) {
      throw new RepositoryError(
        'KEY_SLOT',
        `there is no key slot ${slotId}; "lifeboat repo passwd --list" lists them`,
      );
    }
    const target = slots.find((s) => s.id === slotId)!;
    const everyday = slots.filter((s) => s.kind !== 'recovery');
    if (slots.length === 1 || (target.kind !== 'recovery' && everyday.length === 1)) {
      throw new RepositoryError(
        'KEY_SLOT',
        `key slot ${slotId} is the last ${slots.length === 1 ? 'key slot' : 'password or KMS slot (the recovery key is for emergencies)'}: add another password before removing it`,
      );
    }
    await this.store.delete(keySlotKey(slotId));
  }

  // ---- index ----

  /**
   * The index of every index file (opened once; superseded index files are skipped): by default paged from the
   * local index cache, which is brought up to date with the store first (index/cache.ts).
   */
  async loadIndex(): Promise<BlobIndex> {
    if (this.index) return this.index;
    this.indexLoading ??= this.openIndex().then(
      (index) => {
        this.index = index;
        this.indexLoading = undefined;
        return index;
      },
      (err) => {
        this.indexLoading = undefined;
        throw err;
      },
    );
    return this.indexLoading;
  }

  private openIndex(): Promise<BlobIndex> {
    const src = { repository: this.id, store: this.store, key: this.key, codec: this.codec };
    const kind = this.indexOptions.index ?? (process.env.LIFEBOAT_INDEX === 'memory' ? 'memory' : 'paged');
    if (kind === 'memory') return loadMemoryIndex(src);
    const dir = indexCacheDir(this.indexOptions.cacheDir ?? defaultCacheRoot(), this.id);
    return openPagedIndex(src, dir, this.indexOptions.paged);
  }

  /**
   * A paged index built afresh from the index files in the store, in a private folder beside the index cache
   * (so that what it says is the store's truth, not the cache's), with damaged index files reported to
   * `onDamaged` and skipped instead of failing. Memory is bounded as for the cache; close() removes the folder.
   * Folders left by a killed process are removed by the next call after a day.
   */
  async openFreshIndex(onDamaged: (key: string, error: RepositoryError) => void): Promise<PagedBlobIndex> {
    const parent = join(this.indexOptions.cacheDir ?? defaultCacheRoot(), this.id);
    removeStaleFolders(parent, 'fresh-', 86_400_000);
    const dir = join(parent, `fresh-${process.pid}-${randomBytes(4).toString('hex')}`);
    const src = { repository: this.id, store: this.store, key: this.key, codec: this.codec };
    try {
      const index = await openPagedIndex(src, dir, { ...this.indexOptions.paged, onDamaged });
      const close = index.close.bind(index);
      index.close = () => {
        close();
        rmSync(dir, { recursive: true, force: true });
      };
      return index;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Forgets the loaded index, so that the next loadIndex reads the store again (after prune rewrote it). */
  invalidateIndex(): void {
    this.index = undefined;
  }

  /**
   * Called by the blob writer once an index file naming these entries is stored; with the file's id, the entries
   * persist in the local index cache (without it, the next open reads that index file from the store).
   */
  indexCommitted(entries: readonly IndexEntry[], indexId?: string): void {
    if (!this.index) return;
    if (this.index.commit) this.index.commit(entries, indexId);
    else for (const e of entries) this.index.add(e);
  }

  /**
   * Persists the entries committed so far in the local index cache. Without it they live in this process only,
   * and the next one reads and decrypts the index files just written (for a full backup, all of its index).
   */
  persistIndex(): void {
    this.index?.flush?.();
  }

  /** Where a blob is, by the repository's index or the one given (check's own). */
  async lookup(id: Buffer, what: string, index?: BlobIndex): Promise<IndexEntry> {
    const entry = (index ?? (await this.loadIndex())).get(id);
    if (!entry)
      throw new RepositoryError(
        'REPO_CORRUPT',
        `${what}: blob ${id.toString('hex').slice(0, 16)} is not in any index file`,
      );
    return entry;
  }

  /** Reads, authenticates and verifies one blob (located by the repository's index or the one given). */
  async loadBlob(id: Buffer, what: string, index?: BlobIndex): Promise<Buffer> {
    const e = await this.lookup(id, what, index);
    const sealed = await this.store.getRange(packKey(e.type, e.packId), e.offset, e.length);
    return openBlob(this.key, this.codec, id, sealed, e.rawLength, true, `${what} (pack ${e.packId})`);
  }

  blobId(plain: Uint8Array): Buffer {
    return blobId(this.key, plain);
  }

  // ---- restore points ----

  async pointIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const o of this.store.list(POINTS_PREFIX)) ids.push(o.key.slice(POINTS_PREFIX.length));
    return ids.sort();
  }

  /**
   * Every readable restore point, oldest first, and the ones that cannot be read: one damaged manifest must not
   * hide the others.
   */
  async scanPoints(): Promise<{
    points: Manifest[];
    damaged: Array<{ id: string; error: RepositoryError }>;
  }> {
    const ids = await this.pointIds();
    const damaged: Array<{ id: string; error: RepositoryError }> = [];
    const read = await mapLimit(ids, 8, async (id) => {
      try {
        return await this.readPointExact(id);
      } catch (err) {
        if (!isRepositoryError(err) || err.code === 'STORE_IO') throw err;
        damaged.push({ id, error: err });
        return undefined;
      }
    });
    const points = read.filter((m): m is Manifest => m !== undefined);
    points.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt) || a.id.localeCompare(b.id));
    return { points, damaged };
  }

  async points(): Promise<Manifest[]> {
    return (await this.scanPoints()).points;
  }

  async readPointExact(id: string): Promise<Manifest> {
    return decodeManifest(this.key, this.codec, id, await this.store.get(`${POINTS_PREFIX}${id}`));
  }

  /** A restore point by id or unique id prefix, or "latest". */
  async readPoint(ref: string): Promise<Manifest> {
    const ids = await this.pointIds();
    if (ref === 'latest') {
      const { points, damaged } = await this.scanPoints();
      if (damaged.length) {
        // The damaged one may be the latest: restoring an older one instead must be the operator's choice.
        throw new RepositoryError(
          'REPO_CORRUPT',
          `"latest" is unknown: ${damaged.map((d) => d.error.message).join('; ')}. Name a restore point ("lifeboat points" lists the readable ones)`,
        );
      }
      const last = points.at(-1);
      if (!last)
        throw new RepositoryError(
          'NOT_FOUND',
          `the repository at ${this.store.location} has no restore points`,
        );
      return last;
    }
    const matches = ids.includes(ref) ? [ref] : ids.filter((id) => id.startsWith(ref));
    if (matches.length === 0) {
      throw new RepositoryError(
        'NOT_FOUND',
        `no restore point "${ref}" in ${this.store.location}; "lifeboat points" lists them`,
      );
    }
    if (matches.length > 1) {
      throw new RepositoryError(
        'AMBIGUOUS',
        `"${ref}" matches ${matches.length} restore points: give more of the id`,
      );
    }
    return this.readPointExact(matches[0]!);
  }
}

/**
 * Every key slot that parses, newest first, and the slot files that do not (damaged: reported, and blamed when no
 * other slot opens, but never in the way of a slot that opens).
 */
async function scanSlots(store: Store): Promise<{ slots: KeySlot[]; damaged: RepositoryError[] }> {
  const keys: string[] = [];
  for await (const o of store.list(KEYS_PREFIX)) keys.push(o.key);
  const damaged: RepositoryError[] = [];
  const read = await mapLimit(keys, 8, async (key) => {
    let value: unknown;
    try {
      value = JSON.parse((await store.get(key)).toString('utf8'));
    } catch (cause) {
      if (isRepositoryError(cause, 'NOT_FOUND')) return undefined; // removed while listing
      if (isRepositoryError(cause)) throw cause;
      damaged.push(
        new RepositoryError('REPO_CORRUPT', `key slot ${key} is damaged (not valid JSON)`, { cause }),
      );
      return undefined;
    }
    try {
      return validateSlot(value, key);
    } catch (err) {
      if (!isRepositoryError(err, 'REPO_CORRUPT')) throw err;
      damaged.push(err);
      return undefined;
    }
  });
  const slots = read.filter((s): s is KeySlot => s !== undefined);
  // Newest first: a password just changed is tried before older slots.
  return { slots: slots.sort((a, b) => b.created.localeCompare(a.created)), damaged };
}

/** Something that may open key slots of one kind. */
export interface Unlocker {
  kind: KeySlot['kind'];
  /** For error messages: "password", "recovery key", "KMS key". */
  what: string;
  open(repositoryId: string, slot: KeySlot): Promise<Buffer | undefined>;
}

export function passwordUnlocker(password: string): Unlocker {
  return { kind: 'password', what: 'password', open: (id, slot) => openPasswordSlot(id, slot, password) };
}

export function recoveryUnlocker(recoveryKey: string): Unlocker {
  const kek = parseRecoveryKey(recoveryKey);
  return { kind: 'recovery', what: 'recovery key', open: async (id, slot) => openKekSlot(id, slot, kek) };
}

/** Removes the folders named prefix* in parent older than maxAgeMs (left by killed processes); best effort. */
function removeStaleFolders(parent: string, prefix: string, maxAgeMs: number): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix));
  } catch {
    return; // no cache folder yet
  }
  for (const n of names) {
    const path = join(parent, n);
    try {
      if (Date.now() - statSync(path).mtimeMs > maxAgeMs) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}
