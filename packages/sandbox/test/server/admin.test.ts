import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { BLOCK_SIZE, block, collect, ebs, expectAwsError, expectBytes, sandbox } from '../ebs/helpers.js';

let sb: RunningSandbox;
let work: string;

beforeAll(async () => {
  sb = await sandbox({ adminToken: 'test-token' });
  work = mkdtempSync(join(tmpdir(), 'admin-test-'));
});
afterAll(async () => {
  await sb.close();
  rmSync(work, { recursive: true, force: true });
});

function admin(method: string, path: string, body?: unknown, token = 'test-token') {
  const raw = Buffer.isBuffer(body);
  return fetch(`${sb.endpoint}/_sandbox/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(raw ? {} : { 'content-type': 'application/json' }) },
    body: raw ? body : body === undefined ? undefined : JSON.stringify(body),
  });
}
const json = async (r: Response | Promise<Response>) => (await r).json() as Promise<Record<string, unknown>>;

describe('admin API', () => {
  it('needs the bearer token (except for health)', async () => {
    expect((await fetch(`${sb.endpoint}/_sandbox/health`)).status).toBe(200);
    expect((await fetch(`${sb.endpoint}/_sandbox/accounts`)).status).toBe(401);
    expect((await admin('GET', 'accounts', undefined, 'wrong')).status).toBe(401);
    const info = await json(admin('GET', 'accounts'));
    expect(info.endpoint).toBe(sb.endpoint);
    expect((info.accounts as unknown[]).length).toBeGreaterThanOrEqual(3);
    expect((info.regions as Array<{ name: string }>).map((r) => r.name)).toContain('us-east-1');
  });

  it('writes and reads volume content, and snapshots it for the EBS direct API', async () => {
    const vol = await json(
      admin('POST', 'volumes', {
        accountId: '111111111111',
        region: 'us-east-1',
        az: 'us-east-1c',
        sizeGiB: 1,
      }),
    );
    const id = vol.volumeId as string;
    expect(
      (await admin('PUT', `volumes/${id}/content?offset=${BLOCK_SIZE - 2}`, Buffer.from('hello'))).status,
    ).toBe(200);
    const back = await admin('GET', `volumes/${id}/content?offset=${BLOCK_SIZE - 4}&length=9`);
    expect(Buffer.from(await back.arrayBuffer()).toString('latin1')).toBe('\0\0hello\0\0');
    expect((await admin('GET', `volumes/vol-00000000000000000/content?offset=0&length=1`)).status).toBe(404);
    expect((await admin('GET', `volumes/${id}/content?offset=${1024 ** 3}&length=1`)).status).toBe(400);
    const snap = await json(admin('POST', `volumes/${id}/snapshot`, { description: 'via admin' }));
    const list = await ebs(sb).send(new ListSnapshotBlocksCommand({ SnapshotId: snap.snapshotId as string }));
    expect(list.Blocks?.map((b) => b.BlockIndex)).toEqual([0, 1]);
  });

  it('imports a sparse disk image, skipping zero blocks', async () => {
    const path = join(work, 'disk.img');
    const fd = openSync(path, 'w');
    writeSync(fd, block(1), 0, BLOCK_SIZE, 0);
    writeSync(fd, Buffer.from('tail'), 0, 4, 64 * 1024 * 1024 - 4); // a 64 MiB file, mostly holes
    closeSync(fd);
    const vol = await json(
      admin('POST', 'volumes/import', {
        path,
        accountId: '222222222222',
        region: 'eu-west-1',
        az: 'eu-west-1a',
      }),
    );
    expect(vol).toMatchObject({ sizeGiB: 1, blocksWritten: 2, ownerId: '222222222222', region: 'eu-west-1' });
    expectBytes(sb.readVolume(vol.volumeId as string, 0, BLOCK_SIZE), block(1));
    expect(sb.readVolume(vol.volumeId as string, 64 * 1024 * 1024 - 4, 4).toString()).toBe('tail');
  });

  it('counts requests and bytes per service and operation', async () => {
    const vol = sb.createVolume({
      accountId: '111111111111',
      region: 'us-east-1',
      az: 'us-east-1a',
      sizeGiB: 1,
    });
    sb.writeVolume(vol.volumeId, 0, block(2));
    const snap = sb.snapshotVolume(vol.volumeId).snapshotId;
    expect((await admin('POST', 'counters/reset')).status).toBe(200);
    const c = ebs(sb);
    const list = await c.send(new ListSnapshotBlocksCommand({ SnapshotId: snap }));
    for (let i = 0; i < 3; i++) {
      const r = await c.send(
        new GetSnapshotBlockCommand({
          SnapshotId: snap,
          BlockIndex: 0,
          BlockToken: list.Blocks?.[0]?.BlockToken,
        }),
      );
      await collect(r.BlockData);
    }
    const counters = (await json(admin('GET', 'counters'))).counters as Array<Record<string, unknown>>;
    expect(counters.find((x) => x.operation === 'GetSnapshotBlock')).toEqual({
      service: 'ebs',
      operation: 'GetSnapshotBlock',
      requests: 3,
      errors: 0,
      bytesIn: 0,
      bytesOut: 3 * BLOCK_SIZE,
    });
    expect(counters.find((x) => x.operation === 'ListSnapshotBlocks')?.requests).toBe(1);
  });

  it('injects faults: next-N errors, drops, latency and slow bandwidth', async () => {
    const vol = sb.createVolume({
      accountId: '111111111111',
      region: 'us-east-1',
      az: 'us-east-1a',
      sizeGiB: 1,
    });
    sb.writeVolume(vol.volumeId, 0, block(3));
    const snap = sb.snapshotVolume(vol.volumeId).snapshotId;
    const c = ebs(sb);
    const list = () => c.send(new ListSnapshotBlocksCommand({ SnapshotId: snap }));
    const { id } = await json(
      admin('POST', 'faults', {
        service: 'ebs',
        operation: 'ListSnapshotBlocks',
        kind: 'error5xx',
        count: 2,
        status: 503,
      }),
    );
    expect(id).toBeTruthy();
    await expectAwsError(list(), 'InternalServerException', undefined, 503);
    await expectAwsError(list(), 'InternalServerException', undefined, 503);
    const token = (await list()).Blocks?.[0]?.BlockToken;
    sb.addFault({ service: 'ebs', operation: 'GetSnapshotBlock', kind: 'drop', count: 1 });
    const get = () =>
      c.send(new GetSnapshotBlockCommand({ SnapshotId: snap, BlockIndex: 0, BlockToken: token }));
    await expect(get()).rejects.toThrow();
    sb.addFault({ service: 'ebs', kind: 'latency', latencyMs: 150, count: 1 });
    let t = Date.now();
    await list();
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
    sb.addFault({
      service: 'ebs',
      operation: 'GetSnapshotBlock',
      kind: 'bandwidth',
      bytesPerSecond: 2 * BLOCK_SIZE,
      count: 1,
    });
    t = Date.now();
    expectBytes(await collect((await get()).BlockData), block(3));
    expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    sb.addFault({ service: 'ebs', kind: 'throttle', rate: 1 });
    expect(((await json(admin('GET', 'faults'))).faults as unknown[]).length).toBe(1);
    await expectAwsError(list(), 'RequestThrottledException');
    expect((await admin('DELETE', 'faults')).status).toBe(200);
    await list();
    expect((await admin('POST', 'faults', { kind: 'nonsense' })).status).toBe(400);
  });

  it('scopes a fault to one account and one region', async () => {
    const vol = sb.createVolume({
      accountId: '111111111111',
      region: 'us-east-1',
      az: 'us-east-1a',
      sizeGiB: 1,
    });
    const snap = sb.snapshotVolume(vol.volumeId).snapshotId;
    const list = () => ebs(sb).send(new ListSnapshotBlocksCommand({ SnapshotId: snap }));
    sb.addFault({ service: 'ebs', region: 'eu-west-1', kind: 'throttle' });
    sb.addFault({ service: 'ebs', account: '222222222222', kind: 'throttle' });
    await list();
    sb.addFault({ service: 'ebs', account: '111111111111', region: 'us-east-1', kind: 'throttle', count: 1 });
    await expectAwsError(list(), 'RequestThrottledException');
    await list();
    sb.clearFaults();
  });

  it('switches EBS direct quotas on and off', async () => {
    const q = await json(admin('GET', 'quotas'));
    expect(q).toMatchObject({ enabled: false, perAccount: { GetSnapshotBlock: 1000, StartSnapshot: 10 } });
    const on = await json(admin('PUT', 'quotas', { enabled: true }));
    expect(on.enabled).toBe(true);
    await json(admin('PUT', 'quotas', { enabled: false }));
  });

  it('reports the process CPU time for benchmarks', async () => {
    const p = await json(admin('GET', 'process'));
    expect(p.pid).toBe(process.pid);
    expect((p.cpu as { user: number }).user).toBeGreaterThan(0);
  });
});
