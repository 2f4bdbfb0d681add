import {
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteSnapshotCommand,
  type EBSClient,
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignedBlock } from '../../src/ebs/direct.js';
import type { LayeredBlockEngine } from '../../src/ebs/engine.js';
import type { RunningSandbox, SandboxOptions } from '../../src/index.js';
import { BLOCK_SIZE, b64sha, block, collect, ebs, expectBytes, linearChecksum, sandbox } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dataDir(parent = tmpdir()): string {
  const d = mkdtempSync(join(parent, 'direct-io-'));
  dirs.push(d);
  return d;
}

/** Blocks 0..n-1 of recognisable bytes, with an all-zero block at index n (stored as nothing). */
function blocks(n: number, seed: number): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = Array.from({ length: n }, (_, i) => [i, block(seed + i)]);
  out.push([n, Buffer.alloc(BLOCK_SIZE)]);
  return out;
}

async function writeSnapshot(c: EBSClient, data: Array<[number, Buffer]>): Promise<string> {
  const id = (await c.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 60 }))).SnapshotId as string;
  await Promise.all(
    data.map(([index, bytes]) =>
      c.send(
        new PutSnapshotBlockCommand({
          SnapshotId: id,
          BlockIndex: index,
          BlockData: bytes,
          DataLength: BLOCK_SIZE,
          Checksum: b64sha(bytes),
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    ),
  );
  await c.send(
    new CompleteSnapshotCommand({
      SnapshotId: id,
      ChangedBlocksCount: data.length,
      Checksum: linearChecksum(data),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  return id;
}

async function tokens(c: EBSClient, id: string): Promise<Map<number, string>> {
  const list = await c.send(new ListSnapshotBlocksCommand({ SnapshotId: id, MaxResults: 1000 }));
  return new Map((list.Blocks ?? []).map((b) => [b.BlockIndex as number, b.BlockToken as string]));
}

async function getBlock(c: EBSClient, id: string, index: number, token: string) {
  const r = await c.send(
    new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }),
  );
  return { data: await collect(r.BlockData), checksum: r.Checksum };
}

/** Reads every block, all requests in flight at once, and compares bytes and checksums. */
async function expectSnapshot(c: EBSClient, id: string, data: Array<[number, Buffer]>): Promise<void> {
  const t = await tokens(c, id);
  const got = await Promise.all(data.map(([index]) => getBlock(c, id, index, t.get(index) as string)));
  for (const [i, [, bytes]] of data.entries()) {
    expectBytes(got[i]?.data as Buffer, bytes);
    expect(got[i]?.checksum).toBe(b64sha(bytes));
  }
}

/** The block data files this process has open under `dir`, by how they were opened. */
function openDataFiles(dir: string): { direct: number; buffered: number } {
  const out = { direct: 0, buffered: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    if (!target.startsWith(dir) || !target.endsWith('.dat')) continue;
    const flags = Number.parseInt(/flags:\s*(\d+)/.exec(info)?.[1] ?? '0', 8);
    if (flags & constants.O_DIRECT) out.direct++;
    else out.buffered++;
  }
  return out;
}

function layerBytes(dir: string): number {
  const layers = join(dir, 'layers');
  return readdirSync(layers)
    .filter((f) => f.endsWith('.dat'))
    .reduce((sum, f) => sum + statSync(join(layers, f)).size, 0);
}

async function roundTrip(opts: SandboxOptions, seed: number) {
  const sb = await sandbox(opts);
  const c = ebs(sb);
  const data = blocks(12, seed);
  const id = await writeSnapshot(c, data);
  await expectSnapshot(c, id, data);
  return { sb, c, id, data, files: openDataFiles(sb.dataDir) };
}

describe('block data with O_DIRECT', () => {
  it('puts and gets exact bytes through O_DIRECT descriptors; zero blocks take no space; survives a restart', async () => {
    const dir = dataDir();
    const { sb, id, data, files } = await roundTrip({ dataDir: dir }, 100);
    expect(files.direct).toBeGreaterThan(0);
    expect(layerBytes(dir)).toBe(12 * BLOCK_SIZE);
    await sb.close();
    const again = await sandbox({ dataDir: dir });
    try {
      await expectSnapshot(ebs(again), id, data);
      expect(openDataFiles(dir).direct).toBeGreaterThan(0);
    } finally {
      await again.close();
    }
  });

  it('goes through the page cache when turned off, by option or by LIFEBOAT_SANDBOX_DIRECT_IO=0', async () => {
    const dir = dataDir();
    const off = await roundTrip({ dataDir: dir, directIo: false }, 200);
    expect(off.files.direct).toBe(0);
    expect(off.files.buffered).toBeGreaterThan(0);
    await off.sb.close();
    process.env.LIFEBOAT_SANDBOX_DIRECT_IO = '0';
    try {
      const viaEnv = await roundTrip({ dataDir: dataDir() }, 300);
      expect(viaEnv.files.direct).toBe(0);
      await viaEnv.sb.close();
    } finally {
      delete process.env.LIFEBOAT_SANDBOX_DIRECT_IO;
    }
    // What was written buffered reads back direct, and the other way round.
    const on = await sandbox({ dataDir: dir });
    await expectSnapshot(ebs(on), off.id, off.data);
    const more = blocks(3, 400);
    const id = await writeSnapshot(ebs(on), more);
    await on.close();
    const offAgain = await sandbox({ dataDir: dir, directIo: false });
    try {
      await expectSnapshot(ebs(offAgain), id, more);
      await expectSnapshot(ebs(offAgain), off.id, off.data);
    } finally {
      await offAgain.close();
    }
  });

  it.skipIf(!existsSync('/dev/shm'))(
    'works with the data folder on tmpfs (O_DIRECT or its fallback)',
    async () => {
      const { sb } = await roundTrip({ dataDir: dataDir('/dev/shm') }, 500);
      await sb.close();
    },
  );
});

describe('GetSnapshotBlock while the snapshot is deleted', () => {
  let sb: RunningSandbox;
  beforeAll(async () => {
    sb = await sandbox();
  });
  afterAll(() => sb.close());

  it('requests racing DeleteSnapshot get the right bytes or an AWS error, never other bytes', async () => {
    const c = ebs(sb);
    const a = sb.accounts[0] as RunningSandbox['accounts'][number];
    const ec2 = new EC2Client({
      endpoint: sb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
      maxAttempts: 1,
    });
    const data = blocks(32, 700);
    const id = await writeSnapshot(c, data);
    const t = await tokens(c, id);
    const get = (index: number) =>
      getBlock(c, id, index, t.get(index) as string).then(
        (r) => ({ index, ...r }),
        (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => ({ index, error: e }),
      );
    // Half the reads go out before the delete (the first answered before it is sent), half after it is sent.
    const racing = data.slice(0, 16).map(([index]) => get(index));
    await racing[0];
    const deleting = ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
    racing.push(...data.slice(16).map(([index]) => get(index)));
    await deleting;
    // A new snapshot's blocks take new files: a late read of the deleted one must not see them.
    const next = blocks(32, 900);
    const nextId = await writeSnapshot(c, next);
    const after = data.map(([index]) => get(index));
    let served = 0;
    for (const r of await Promise.all(racing)) {
      if ('error' in r) {
        expect(r.error.name).toBe('ResourceNotFoundException');
        continue;
      }
      served++;
      const bytes = data[r.index]?.[1] as Buffer;
      expectBytes(r.data, bytes);
      expect(r.checksum).toBe(b64sha(bytes));
    }
    expect(served).toBeGreaterThan(0); // at least the first read
    for (const r of await Promise.all(after)) {
      expect('error' in r && r.error.name).toBe('ResourceNotFoundException');
    }
    await expectSnapshot(c, nextId, next);
    const engine = sb.ctx.blocks as LayeredBlockEngine;
    expect(engine.hasSnapshot(id)).toBe(false);
    expect(() => engine.readSnapshotBlockInto(id, 0, alignedBlock())).toThrow();
  });
});
