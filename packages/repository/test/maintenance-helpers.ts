/**
 * Helpers of the maintenance tests (crash, interleaving, retention, lease, kill -9): a store factory so that
 * the same cases run on the local folder store and on the sandbox's S3, a test clock shared by every repository of
 * a case (and by the store, for the objects' times), a controller of checkpoints that pauses one operation at a
 * named step, small deterministic disk images and the verification every case ends with (every restore point
 * restores byte-identical; check is clean).
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { checkRepository } from '../src/check.js';
import { setCheckpointHook } from '../src/crash.js';
import { CHUNK_SIZE } from '../src/format.js';
import type { Manifest } from '../src/manifest.js';
import { Repository } from '../src/repository.js';
import { DiskReader, restoreDisk } from '../src/restore.js';
import { LocalStore } from '../src/store/local.js';
import type { ObjectInfo, Store } from '../src/store/store.js';
import { shaFile, TEST_KDF, tempDir } from './helpers.js';

export { CHUNK_SIZE, TEST_KDF };

// ---- stores ----

/** A place a repository lives: a location the CLI understands (--repo), and a Store for in-process use. */
export interface StoreTarget {
  location: string;
  store: Store;
}

/**
 * Makes empty repository locations and copies of prepared ones. The maintenance suites take a factory so that
 * the same cases run against S3 once its store exists (an S3 factory makes a prefix per target and copies with
 * CopyObject; `env` then carries the endpoint and credentials for the CLI).
 */
export interface StoreFactory {
  readonly name: string;
  /** Environment the CLI needs to reach the targets' locations (credentials, endpoint). */
  readonly env: Record<string, string>;
  /** A new, empty location. */
  create(label: string): Promise<StoreTarget>;
  /** A new location holding a copy of every object of `from` (prepared repositories are shared this way). */
  copy(from: StoreTarget, label: string): Promise<StoreTarget>;
  /** Removes every location this factory made. */
  dispose(): Promise<void>;
}

/** Local folders under one temporary directory; copies are `cp -r` of the folder. */
export function localFolderFactory(): StoreFactory {
  const root = tempDir('lb-maint-');
  let n = 0;
  const fresh = (label: string) => join(root.path, `${label.replace(/[^a-z0-9-]/gi, '_')}-${n++}`);
  return {
    name: 'local folder',
    env: {},
    async create(label) {
      const location = fresh(label);
      return { location, store: new LocalStore(location) };
    },
    async copy(from, label) {
      const location = fresh(label);
      cpSync(from.location, location, { recursive: true });
      return { location, store: new LocalStore(location) };
    },
    async dispose() {
      root.cleanup();
    },
  };
}

/**
 * Prefixes of one bucket in a sandbox started on first use (in this test process), through the S3 store over
 * HTTP, as the CLI reaches them with `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`. Copies go through the Store
 * interface (get and put), so a copy is exactly what another store would hold. The sandbox and the S3 store
 * come from their packages by name (test-only dependencies: the repository's sources never import them).
 */
export function sandboxS3Factory(): StoreFactory {
  const bucket = 'maintenance';
  let n = 0;
  let started: Promise<S3World> | undefined;
  const env: Record<string, string> = {};
  const stores: Store[] = [];
  const world = () => {
    started ??= startS3World(bucket).then((w) => {
      Object.assign(env, w.env);
      return w;
    });
    return started;
  };
  const create = async (label: string): Promise<StoreTarget> => {
    const w = await world();
    const location = `s3:${w.endpoint}/${bucket}/${label.replace(/[^a-z0-9-]/gi, '_')}-${n++}`;
    const store = new w.S3Store(location, {
      client: { credentials: w.credentials },
      maxAttempts: 3,
    }) as Store;
    stores.push(store);
    return { location, store };
  };
  return {
    name: 'sandbox S3',
    env,
    create,
    async copy(from, label) {
      const to = await create(label);
      await copyObjects(from.store, to.store);
      return to;
    },
    async dispose() {
      if (!started) return;
      const w = await started;
      for (const s of stores) await (s as Store & { close?: () => Promise<void> }).close?.();
      await w.close();
    },
  };
}

interface S3World {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  env: Record<string, string>;
  S3Store: new (location: string, options: object) => unknown;
  close(): Promise<void>;
}

async function startS3World(bucket: string): Promise<S3World> {
  const sandboxPkg = '@lifeboat/sandbox';
  const awsPkg = '@lifeboat/aws';
  const s3Pkg = '@aws-sdk/client-s3';
  const { startSandbox } = await import(sandboxPkg);
  const { S3Store } = await import(awsPkg);
  const { S3Client, CreateBucketCommand } = await import(s3Pkg);
  const sandbox = await startSandbox({ fast: true });
  const account = sandbox.accounts[1];
  const credentials = { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey };
  const admin = new S3Client({
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
  });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  return {
    endpoint: sandbox.endpoint,
    credentials,
    S3Store,
    env: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    close: () => sandbox.close(),
  };
}

/**
 * The store factories the suites run on: the local folder store and the sandbox's S3 (LIFEBOAT_TEST_S3=0 leaves
 * S3 out, e.g. to iterate quickly on a case).
 */
export function storeFactories(): StoreFactory[] {
  return process.env.LIFEBOAT_TEST_S3 === '0'
    ? [localFolderFactory()]
    : [localFolderFactory(), sandboxS3Factory()];
}

/** Copies every object of one store into another, through the Store interface only (any store to any store). */
export async function copyObjects(from: Store, to: Store): Promise<void> {
  const keys: string[] = [];
  for await (const o of from.list('')) keys.push(o.key);
  for (const k of keys) await to.put(k, await from.get(k));
}

/** Keys (with sizes) of every object under prefix. */
export async function listKeys(store: Store, prefix = ''): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const o of store.list(prefix)) out.set(o.key, o.size);
  return out;
}

/** Bytes of data and tree packs in the store. */
export async function packBytes(store: Store): Promise<number> {
  let n = 0;
  for (const prefix of ['data/', 'meta/packs/']) for await (const o of store.list(prefix)) n += o.size;
  return n;
}

// ---- time ----

/** A clock the test steps; every repository of a case and its store read it. */
export class TestClock {
  /** Starts at the real time, so that objects written without the clock (copies) have consistent times. */
  constructor(public t = Date.now()) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * A store whose objects carry the test clock's time as their lastModified (as S3 gives the server's time), so
 * that stepping the clock ages objects consistently with sessions, leases and plans. Every other call goes to
 * the inner store unchanged. Share one instance between the repositories of a case.
 */
export class ClockedStore implements Store {
  constructor(
    readonly inner: Store,
    readonly clock: TestClock,
    private readonly written = new Map<string, number>(),
  ) {}
  /** The same objects' times over a copy of the inner store, on another clock (a copied repository). */
  fork(inner: Store, clock: TestClock): ClockedStore {
    return new ClockedStore(inner, clock, new Map(this.written));
  }
  get location(): string {
    return this.inner.location;
  }
  async put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    await this.inner.put(key, data);
    this.written.set(key, this.clock.now());
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(key, offset, length);
  }
  private timed(o: ObjectInfo): ObjectInfo {
    const t = this.written.get(o.key);
    return t === undefined ? o : { ...o, lastModified: t };
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const o = await this.inner.stat(key);
    return o && this.timed(o);
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const o of this.inner.list(prefix)) yield this.timed(o);
  }
  async delete(key: string): Promise<void> {
    await this.inner.delete(key);
    this.written.delete(key);
  }
}

// ---- checkpoints ----

export interface Pause {
  /** Resolves when the operation reached the checkpoint (and waits there). */
  reached: Promise<void>;
  /** Lets the paused operation go on. */
  release(): void;
  readonly hit: boolean;
}

/**
 * Installs the checkpoint hook: records every checkpoint reached, and pauses at the ones asked for. Names are
 * global to the process, so one controller at a time (the interleaving tests run sequentially).
 */
export class CheckpointControl {
  readonly seen: string[] = [];
  private pauses: Array<{
    name: string;
    remaining: number;
    pause: Pause;
    resolve(): void;
    gate: Promise<void>;
  }> = [];
  /** Called at every checkpoint before pausing (e.g. to run another operation synchronously with it). */
  onCheckpoint: ((name: string) => void | Promise<void>) | undefined;

  install(): this {
    setCheckpointHook(async (name) => {
      this.seen.push(name);
      await this.onCheckpoint?.(name);
      for (const p of this.pauses) {
        if (p.name !== name || p.remaining <= 0) continue;
        if (--p.remaining > 0) continue;
        p.resolve();
        await p.gate;
      }
    });
    return this;
  }

  uninstall(): void {
    setCheckpointHook(undefined);
    for (const p of this.pauses) p.pause.release();
    this.pauses = [];
  }

  /** Pauses the n-th arrival at `name` from now on (default: the next one) until release(). */
  pauseAt(name: string, n = 1): Pause {
    let resolveReached!: () => void;
    let resolveGate!: () => void;
    let hit = false;
    const reached = new Promise<void>((r) => {
      resolveReached = r;
    });
    const gate = new Promise<void>((r) => {
      resolveGate = r;
    });
    const pause: Pause = {
      reached,
      release: () => resolveGate(),
      get hit() {
        return hit;
      },
    };
    this.pauses.push({
      name,
      remaining: n,
      pause,
      gate,
      resolve: () => {
        hit = true;
        resolveReached();
      },
    });
    return pause;
  }

  count(name: string): number {
    return this.seen.filter((s) => s === name).length;
  }
}

/**
 * Waits until the operation reaches its pause; fails (with the operation's own error, if any) when it ends
 * without reaching it.
 */
export async function untilPaused(pause: Pause, op: Promise<unknown>, what: string): Promise<void> {
  const ended = op.then(
    () => 'ended' as const,
    (err: unknown) => {
      throw err;
    },
  );
  const r = await Promise.race([pause.reached.then(() => 'paused' as const), ended]);
  if (r !== 'paused') throw new Error(`${what}: ended without reaching its checkpoint`);
}

// ---- images ----

/** Deterministic incompressible bytes (AES-256-CTR of zeros under a key derived from the seed): fast. */
export function seeded(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}

/** A block of compressible, non-zero content. */
export function textBlock(seed: string): Buffer {
  const line = Buffer.from(`${seed}: lifeboat maintenance test data, compressible. `);
  const b = Buffer.alloc(CHUNK_SIZE);
  for (let o = 0; o < CHUNK_SIZE; o += line.length) line.copy(b, o);
  return b;
}

/**
 * Block contents of a disk image: `blocks[i]` is the seed of block i (a random block), "text:<seed>" a
 * compressible block, or null/undefined a hole. `tail` shortens the last block (a size not a multiple).
 */
export interface ImageLayout {
  blocks: Array<string | null | undefined>;
  tail?: number;
}

export function blockBytes(seed: string): Buffer {
  return seed.startsWith('text:') ? textBlock(seed.slice(5)) : seeded(seed, CHUNK_SIZE);
}

/** Writes the image sparse; returns its sha256. */
export function writeLayout(path: string, layout: ImageLayout): string {
  const size = layout.blocks.length * CHUNK_SIZE - (layout.tail ? CHUNK_SIZE - layout.tail : 0);
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  try {
    ftruncateSync(fd, size);
    const zero = Buffer.alloc(CHUNK_SIZE);
    layout.blocks.forEach((seed, i) => {
      const len = Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE);
      if (seed) {
        const b = blockBytes(seed).subarray(0, len);
        writeSync(fd, b, 0, len, i * CHUNK_SIZE);
        h.update(b);
      } else h.update(zero.subarray(0, len));
    });
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** A layout of n random blocks named prefix-0.., with holes at the given indexes. */
export function randomLayout(prefix: string, n: number, holes: number[] = []): ImageLayout {
  return { blocks: Array.from({ length: n }, (_, i) => (holes.includes(i) ? null : `${prefix}-${i}`)) };
}

/** The layout with some blocks replaced (a later state of the same disk); returns it and the changed indexes. */
export function changeLayout(
  layout: ImageLayout,
  changes: Record<number, string | null>,
): { layout: ImageLayout; changed: number[] } {
  const blocks = [...layout.blocks];
  for (const [i, seed] of Object.entries(changes)) blocks[Number(i)] = seed;
  return { layout: { ...layout, blocks }, changed: Object.keys(changes).map(Number) };
}

// ---- repositories in process ----

export const PASSWORD = 'maintenance test password';

/** A repository on a target with the cheap test KDF, its clock and index cache under `cacheDir`. */
export async function initRepo(
  target: StoreTarget,
  clock: TestClock,
  cacheDir: string,
): Promise<{ repo: Repository; store: ClockedStore }> {
  const store = new ClockedStore(target.store, clock);
  const repo = await Repository.init(store, PASSWORD, { kdfCost: TEST_KDF, cacheDir });
  repo.now = clock.now;
  return { repo, store };
}

/** Another process's view of the same repository (its own Repository object, same clock and cache folder). */
export async function openAgain(store: Store, clock: TestClock, cacheDir: string): Promise<Repository> {
  const repo = await Repository.open(store, PASSWORD, { cacheDir });
  repo.now = clock.now;
  return repo;
}

/** Expected content of restore points: point id -> disk name -> sha256. */
export type Expected = Map<string, Record<string, string>>;

/**
 * The end of every case: the restore points are exactly the expected ones, each disk restores byte-identical
 * and check (optionally with readData) reports nothing. `restore: 'file'` restores each disk into a file with
 * restoreDisk (the restore command's path, with its worker threads); 'reader' reads it through DiskReader (the
 * same blobs, authenticated and verified against their ids, on the main thread: cheaper for tiny images).
 */
export async function verifyRepository(
  repo: Repository,
  expected: Expected,
  scratch: string,
  options: { readData?: boolean; restore?: 'file' | 'reader' } = {},
): Promise<void> {
  repo.invalidateIndex();
  const report = await checkRepository(repo, { readData: options.readData, workers: 1 });
  expect({ problems: report.problems, damaged: report.damaged }).toEqual({ problems: [], damaged: [] });
  expect(report.ok).toBe(true);
  expect(await repo.pointIds()).toEqual([...expected.keys()].sort());
  mkdirSync(scratch, { recursive: true });
  for (const [id, disks] of expected) {
    const point = await repo.readPointExact(id);
    expect(point.disks.map((d) => d.name).sort()).toEqual(Object.keys(disks).sort());
    for (const [disk, sha] of Object.entries(disks)) {
      if (options.restore === 'reader') {
        const reader = new DiskReader(repo, point, point.disks.find((d) => d.name === disk)!);
        const h = createHash('sha256');
        for await (const piece of reader.read(0, reader.sizeBytes)) h.update(piece);
        expect(h.digest('hex'), `restore point ${id}, disk ${disk}`).toBe(sha);
        continue;
      }
      const target = join(scratch, `${id}-${disk}.restored`);
      rmSync(target, { force: true });
      await restoreDisk(repo, point, disk, target, { workers: 1 });
      expect(await shaFile(target), `restore point ${id}, disk ${disk}`).toBe(sha);
      unlinkSync(target);
    }
  }
}

/** New chunks and bytes a restore point stored, over its disks. */
export function statsOf(m: Manifest): { newChunks: number; newBytes: number } {
  return {
    newChunks: m.disks.reduce((n, d) => n + d.stats.newChunks, 0),
    newBytes: m.disks.reduce((n, d) => n + d.stats.newBytesStored, 0),
  };
}

// ---- the lifeboat command ----

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const CLI_BIN = resolve(HERE, '../../cli/bin/lifeboat.js');
/** The built library the CLI loads (the same module instance, whatever path it is imported by). */
const LIBRARY = resolve(HERE, '../dist/index.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  stdout: string;
  stderr: string;
}

let preload: string | undefined;
/** Lines the preloaded hook writes to stderr at each checkpoint when tracing. */
const TRACE_PREFIX = '[lb-checkpoint] ';

/**
 * A module preloaded into the CLI (node --import) that kills the process at LB_TEST_CRASH_AT=name[:n] through
 * setCheckpointHook: the same checkpoints and the same SIGKILL as LIFEBOAT_CRASH_AT, whose parsing in
 * armCrashPoint splits "name:n" at the first colon, while every checkpoint name contains one (so that
 * LIFEBOAT_CRASH_AT=backup:after-index never fires). The crash tests set both variables, so that they keep
 * crashing for real whichever path works; crash.test.ts also tests LIFEBOAT_CRASH_AT alone.
 */
function crashPreload(): string {
  if (preload && existsSync(preload)) return preload;
  const dir = join(tmpdir(), `lb-crash-preload-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  preload = join(dir, 'crash-preload.mjs');
  writeFileSync(
    preload,
    `import { setCheckpointHook } from ${JSON.stringify(pathToFileURL(LIBRARY).href)};
import { writeSync } from 'node:fs';
const spec = process.env.LB_TEST_CRASH_AT;
const trace = process.env.LB_TEST_TRACE === '1';
const m = spec ? /^(.*?)(?::(\\d+))?$/.exec(spec) : undefined;
let remaining = m?.[2] ? Number(m[2]) : 1;
if (m || trace)
  setCheckpointHook((n) => {
    if (trace) writeSync(2, \`${TRACE_PREFIX}\${n}\\n\`);
    if (m && n === m[1] && --remaining <= 0) process.kill(process.pid, 'SIGKILL');
  });
`,
  );
  return preload;
}

/** Removes the preloaded module's folder (call from afterAll). */
export function removeCliPreload(): void {
  if (preload) rmSync(join(preload, '..'), { recursive: true, force: true });
  preload = undefined;
}

export interface CliOptions {
  /** Environment added to a clean one (PATH, HOME); undefined values are left out. */
  env?: Record<string, string | undefined>;
  /** Checkpoint (name[:n]) at which the process kills itself. */
  crashAt?: string;
  /** Only LIFEBOAT_CRASH_AT, without the preloaded hook. */
  envOnly?: boolean;
  /** Called once the process started (kill -9 tests). */
  started?: (pid: number, kill: () => void) => void;
  /** Called at each checkpoint the process reaches (traced through the preloaded hook, on stderr). */
  onCheckpoint?: (name: string) => void;
}

/** Runs `lifeboat ARGS` (stdin a closed pipe); resolves with its exit code or the signal that ended it. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
  };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  const node: string[] = [];
  if (options.crashAt) {
    env.LIFEBOAT_CRASH_AT = options.crashAt;
    if (!options.envOnly) env.LB_TEST_CRASH_AT = options.crashAt;
  }
  if (options.onCheckpoint) env.LB_TEST_TRACE = '1';
  if (env.LB_TEST_CRASH_AT || env.LB_TEST_TRACE) node.push('--import', pathToFileURL(crashPreload()).href);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...node, CLI_BIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    let partial = '';
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (!options.onCheckpoint) return;
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines)
        if (l.startsWith(TRACE_PREFIX)) options.onCheckpoint(l.slice(TRACE_PREFIX.length));
    });
    child.on('error', fail);
    child.on('close', (code, signal) =>
      done({
        code,
        signal,
        pid: child.pid!,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end();
    options.started?.(child.pid!, () => child.kill('SIGKILL'));
  });
}

/** Describes a result for an assertion message. */
export function describeRun(args: string[], r: CliResult): string {
  return `lifeboat ${args.join(' ')}: exit ${r.code}, signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}
