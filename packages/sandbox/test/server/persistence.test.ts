import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CompleteSnapshotCommand,
  type EBSClient,
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_ACCOUNTS } from '../../src/server/accounts.js';
import { BLOCK_SIZE, b64sha, block, collect, ebs, expectBytes } from '../ebs/helpers.js';

/** The built package: the sandbox runs in a child process (as `lifeboat sandbox` would) so that we can kill -9 it. */
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'sandbox-persist-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts a sandbox child on the data folder; resolves with its endpoint once it listens. */
function startChild(): Promise<{ child: ChildProcess; endpoint: string }> {
  const script = `import { startSandbox } from ${JSON.stringify(DIST)};
    const sb = await startSandbox({ dataDir: ${JSON.stringify(dataDir)}, fast: true, adminToken: 't' });
    console.log(JSON.stringify({ endpoint: sb.endpoint }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, endpoint: JSON.parse(line).endpoint });
    });
    child.once('exit', (code) => reject(new Error(`sandbox child exited (${code}) before listening`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const client = (endpoint: string) => ebs({ endpoint, accounts: TEST_ACCOUNTS });
const put = (c: EBSClient, id: string, index: number, data: Buffer) =>
  c.send(
    new PutSnapshotBlockCommand({
      SnapshotId: id,
      BlockIndex: index,
      BlockData: data,
      DataLength: BLOCK_SIZE,
      Checksum: b64sha(data),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
const admin = (endpoint: string, method: string, path: string, body?: Buffer | string) =>
  fetch(`${endpoint}/_sandbox/${path}`, { method, headers: { authorization: 'Bearer t' }, body });

async function readAll(c: EBSClient, id: string): Promise<Map<number, Buffer>> {
  const list = await c.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
  const out = new Map<number, Buffer>();
  for (const b of list.Blocks ?? []) {
    const r = await c.send(
      new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: b.BlockIndex, BlockToken: b.BlockToken }),
    );
    out.set(b.BlockIndex as number, await collect(r.BlockData));
  }
  return out;
}

describe('persistence across kill -9', () => {
  it('keeps snapshots, volumes and pending snapshots; a crash mid-write harms nothing earlier', async () => {
    expect(existsSync(DIST), 'run `npm run build` first: this test runs the built sandbox').toBe(true);
    const a = await startChild();
    const c1 = client(a.endpoint);
    const done = (await c1.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId as string;
    for (const i of [0, 9]) await put(c1, done, i, block(i));
    await c1.send(new CompleteSnapshotCommand({ SnapshotId: done, ChangedBlocksCount: 2 }));
    const vol = await (
      await admin(
        a.endpoint,
        'POST',
        'volumes',
        JSON.stringify({ accountId: '111111111111', region: 'us-east-1', az: 'us-east-1a', sizeGiB: 1 }),
      )
    ).json();
    await admin(
      a.endpoint,
      'PUT',
      `volumes/${vol.volumeId}/content?offset=1000`,
      Buffer.from('persistent bytes'),
    );
    const volSnap = await (await admin(a.endpoint, 'POST', `volumes/${vol.volumeId}/snapshot`)).json();
    await admin(a.endpoint, 'PUT', `volumes/${vol.volumeId}/content?offset=1000`, Buffer.from('PERSISTENT'));
    const pending = (await c1.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId as string;
    await put(c1, pending, 1, block(101));
    await put(c1, pending, 2, block(102));
    const busy = (await c1.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId as string;
    const inFlight = Array.from({ length: 24 }, (_, i) =>
      put(c1, busy, i, block(200 + i)).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 15));
    await killHard(a.child);
    await Promise.all(inFlight);

    const b = await startChild();
    const c2 = client(b.endpoint);
    const blocks = await readAll(c2, done);
    expect([...blocks.keys()]).toEqual([0, 9]);
    expectBytes(blocks.get(9) as Buffer, block(9));
    const content = await admin(b.endpoint, 'GET', `volumes/${vol.volumeId}/content?offset=1000&length=16`);
    expect(await content.text()).toBe('PERSISTENT bytes');
    const fromVolume = await readAll(c2, volSnap.snapshotId);
    expect(fromVolume.get(0)?.subarray(1000, 1016).toString()).toBe('persistent bytes');
    await put(c2, pending, 3, block(103));
    await c2.send(new CompleteSnapshotCommand({ SnapshotId: pending, ChangedBlocksCount: 3 }));
    const resumed = await readAll(c2, pending);
    expect([...resumed.keys()]).toEqual([1, 2, 3]);
    expectBytes(resumed.get(2) as Buffer, block(102));
    await killHard(b.child);
  });
});
