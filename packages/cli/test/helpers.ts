/**
 * Helpers of the end-to-end tests of the `lifeboat` command: run the real CLI as a child process (stdin a pipe,
 * never a terminal), build small disk images (sparse where possible), and compare files exactly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BIN = join(ROOT, 'packages/cli/bin/lifeboat.js');
export const BLOCK = 524288; // the EBS direct API block: one chunk
export const LEAF_BLOCKS = 1024;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  out: Buffer; // raw stdout (image cat)
}

export interface RunOptions {
  /** Environment added to a clean one (PATH, HOME); a key set to undefined is left out. */
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
}

/** Runs `lifeboat ARGS` with stdin a pipe (not a TTY) and a clean environment plus `env`. */
export function lifeboat(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
  };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: options.cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      resolvePromise({
        code: code ?? (signal ? 128 : -1),
        out: stdout,
        stdout: stdout.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A repository location and password, and a `run` bound to them. */
export class Repo {
  constructor(
    readonly path: string,
    readonly password = 'correct horse battery staple',
  ) {}

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return { LIFEBOAT_REPO: this.path, LIFEBOAT_PASSWORD: this.password, ...extra };
  }

  run(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    return lifeboat(args, { env: this.env(extra) });
  }

  /** Runs and requires exit 0 (the failure message shows stderr). */
  async ok(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    const r = await this.run(args, extra);
    if (r.code !== 0) {
      throw new Error(
        `lifeboat ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
      );
    }
    return r;
  }

  async json<T = PointJson>(args: string[], extra: Record<string, string | undefined> = {}): Promise<T> {
    const r = await this.ok(['--json', ...args], extra);
    return JSON.parse(r.stdout) as T;
  }

  /** A copy of the repository folder (damage tests work on copies). */
  copy(to: string): Repo {
    cpSync(this.path, to, { recursive: true });
    return new Repo(to, this.password);
  }
}

export function lastLine(s: string): string {
  const lines = s.trimEnd().split('\n');
  return lines[lines.length - 1]!.trim();
}

/** A one-line error: a message, no stack trace. */
export function expectOneLineError(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (/\n\s+at /.test(`\n${stderr}`) || stderr.includes('node:internal')) {
    throw new Error(`stderr has a stack trace:\n${stderr}`);
  }
  const errors = lines.filter((l) => l.startsWith('error:'));
  if (errors.length !== 1) throw new Error(`expected exactly one "error:" line on stderr, got:\n${stderr}`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lifeboat-e2e-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Shapes of the --json output the tests read. */
export interface DiskJson {
  name: string;
  sizeBytes: number;
  sourceSnapshotId?: string;
  stats: { dataBlocks: number; blocksRead: number; newChunks: number; newBytesStored: number };
}
export interface PointJson {
  id: string;
  parent?: string;
  resource: { id: string; kind: string; account?: string; region?: string };
  disks: [DiskJson, ...DiskJson[]];
  tags: Record<string, string>;
  configuration?: unknown;
  startedAt: string;
  finishedAt: string;
}
export interface SlotJson {
  id: string;
  kind: string;
  label?: string;
  created: string;
  current: boolean;
}

// ---- images ----

/** Deterministic-enough random data (each run different; what matters is that it is incompressible). */
export function random(n: number): Buffer {
  return randomBytes(n);
}

/** Highly compressible, but not all zeros. */
export function compressible(n: number, seed = 'lifeboat'): Buffer {
  const line = Buffer.from(`${seed}: the quick brown fox jumps over the lazy dog 0123456789\n`);
  const b = Buffer.alloc(n);
  for (let o = 0; o < n; o += line.length) line.copy(b, o);
  return b;
}

/**
 * Writes a sparse image of `size` bytes: only the given pieces are written (offset -> bytes); everything else is
 * a hole. Returns the path.
 */
export function writeImage(path: string, size: number, pieces: Array<[number, Buffer]>): string {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (const [offset, bytes] of pieces) {
      if (offset + bytes.length > size) throw new Error(`a piece of ${path} goes past its size`);
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Overwrites bytes of an existing image in place. */
export function patchImage(path: string, pieces: Array<[number, Buffer]>): void {
  const fd = openSync(path, 'r+');
  try {
    for (const [offset, bytes] of pieces) writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Copies a file keeping its holes. */
export function copySparse(from: string, to: string): void {
  const r = spawnSync('cp', ['--sparse=always', from, to]);
  if (r.status !== 0) throw new Error(`cp ${from} ${to}: ${r.stderr}`);
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, b, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return b.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Bytes allocated on disk (st_blocks * 512). */
export function allocated(path: string): number {
  return statSync(path).blocks * 512;
}

let python: boolean | undefined;
function hasPython(): boolean {
  python ??= spawnSync('python3', ['-c', 'import os; os.SEEK_DATA'], { stdio: 'ignore' }).status === 0;
  return python;
}

const EXTENTS_PY = `
import os, sys, json
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
pos, out = 0, []
while pos < size:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    out.append([d, h])
    pos = h
print(json.dumps(out))
`;

/** Data extents [start, end) of a file (SEEK_DATA/SEEK_HOLE), or one extent covering it all when unknown. */
export function dataExtents(path: string): Array<[number, number]> {
  const size = statSync(path).size;
  if (!hasPython()) return [[0, size]];
  const r = spawnSync('python3', ['-c', EXTENTS_PY, path], { encoding: 'utf8' });
  if (r.status !== 0) return [[0, size]];
  return JSON.parse(r.stdout) as Array<[number, number]>;
}

/**
 * True when the two files have the same size and the same bytes. Holes of both files are skipped (they read as
 * zeros in both), so a large sparse image compares in milliseconds; every byte where either file has data is
 * compared.
 */
export function sameBytes(a: string, b: string): { same: boolean; reason?: string } {
  const size = statSync(a).size;
  if (statSync(b).size !== size) return { same: false, reason: `sizes ${size} and ${statSync(b).size}` };
  const extents = mergeExtents([...dataExtents(a), ...dataExtents(b)]);
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const step = 8 * 1024 * 1024;
    const ba = Buffer.alloc(step);
    const bb = Buffer.alloc(step);
    for (const [start, end] of extents) {
      for (let o = start; o < end; o += step) {
        const n = Math.min(step, end - o);
        const na = readSync(fa, ba, 0, n, o);
        const nb = readSync(fb, bb, 0, n, o);
        if (na !== n || nb !== n) return { same: false, reason: `short read at ${o}` };
        if (!ba.subarray(0, n).equals(bb.subarray(0, n))) {
          let i = 0;
          while (ba[i] === bb[i]) i++;
          return { same: false, reason: `first difference at byte ${o + i}` };
        }
      }
    }
    return { same: true };
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function mergeExtents(list: Array<[number, number]>): Array<[number, number]> {
  const sorted = list.sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

// ---- repository folder ----

/** Every file of a repository folder, relative (the .tmp staging folder left out), with sizes. */
export function repoFiles(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (dir === root && e.name === '.tmp') continue;
        walk(p);
      } else out.set(relative(root, p), statSync(p).size);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

export function added(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after.keys()].filter((k) => !before.has(k)).sort();
}

/** Flips one bit of a file in place. */
export function flipBit(path: string, offset: number, bit = 0): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ (1 << bit);
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/** Parses `damaged: restore point P, disk D, bytes S-E: reason` lines of `repo check`. */
export function damagedLines(
  stdout: string,
): Array<{ point: string; disk: string; start: number; end: number }> {
  const out = [];
  for (const m of stdout.matchAll(/restore point (\S+), disk (\S+), bytes (\d+)-(\d+)/g)) {
    out.push({ point: m[1]!, disk: m[2]!, start: Number(m[3]), end: Number(m[4]) });
  }
  return out;
}
