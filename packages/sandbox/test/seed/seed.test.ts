import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../src/core/blocks.js';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';
import { type DemoEnvironment, seedDemo } from '../../src/seed/index.js';

const TOOLS_ENV = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
let dir: string;
let sb: RunningSandbox;
let env: DemoEnvironment;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-seed-test-'));
  sb = await startSandbox({ dataDir: join(dir, 'data') });
  env = await seedDemo(sb);
}, 60_000);

afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(account: number, region: string): EC2Client {
  const a = sb.accounts[account]!;
  return new EC2Client({
    endpoint: sb.endpoint,
    region,
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    maxAttempts: 1,
  });
}

/** Writes a volume's content to a sparse image file, through a snapshot of it and the block engine. */
function exportVolume(volumeId: string, sizeGiB: number): string {
  const snap = sb.snapshotVolume(volumeId, 'export for test');
  const path = join(dir, `${volumeId}.img`);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, Buffer.alloc(1), 0, 1, sizeGiB * 2 ** 30 - 1);
    for (let start = 0; ; ) {
      const refs = sb.ctx.blocks.listSnapshotBlocks(snap.snapshotId, start, 1000);
      for (const ref of refs) {
        const { data } = sb.ctx.blocks.readSnapshotBlock(snap.snapshotId, ref.index);
        writeSync(fd, data, 0, data.length, ref.index * BLOCK_SIZE);
      }
      if (refs.length < 1000) break;
      start = refs[refs.length - 1]!.index + 1;
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env: TOOLS_ENV, encoding: 'utf8', timeout: 30_000 });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('demo seed', () => {
  it('seeds within 10 seconds', () => {
    console.log(`demo seeded in ${env.seconds.toFixed(2)} s`);
    expect(env.seconds).toBeGreaterThan(0);
    expect(env.seconds).toBeLessThanOrEqual(10);
    expect(env.production).toBe(sb.accounts[0]!.accountId);
    expect(env.backup).toBe(sb.accounts[1]!.accountId);
  });

  it('shows tagged instances in two regions over the EC2 API, one with several volumes', async () => {
    const [r1, r2] = env.regions;
    const east = client(0, r1);
    const prod = await east.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Environment', Values: ['prod'] }] }),
    );
    const names = prod.Reservations!.flatMap((r) =>
      r.Instances!.map((i) => i.Tags!.find((t) => t.Key === 'Name')!.Value),
    );
    expect(names.sort()).toEqual(['db-1', 'web-1']);
    expect(prod.Reservations!.flatMap((r) => r.Instances!.map((i) => i.State!.Name))).toEqual([
      'running',
      'running',
    ]);
    const west = await client(0, r2).send(new DescribeInstancesCommand({}));
    const westStates = west.Reservations!.flatMap((r) => r.Instances!.map((i) => i.State!.Name)).sort();
    expect(westStates).toEqual(['running', 'stopped']);
    expect(env.instances.length).toBeGreaterThanOrEqual(4);
    const db = env.instances.find((i) => i.name === 'db-1')!;
    const vols = await east.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [db.instanceId] }] }),
    );
    expect(vols.Volumes).toHaveLength(3);
    expect(vols.Volumes!.every((v) => v.State === 'in-use' && v.Attachments![0]!.State === 'attached')).toBe(
      true,
    );
    east.destroy();
  });

  it('holds real file systems: ext4, XFS and a GPT disk with ext4 inside', () => {
    const www = env.volumes.find((v) => v.disk === 'www' && v.region === env.regions[0])!;
    const wwwImg = exportVolume(www.volumeId, www.sizeGiB);
    expect(run('debugfs', ['-R', 'ls -l /html/assets', wwwImg])).toContain('img-00.jpg');
    const index = run('debugfs', ['-R', 'cat /html/index.html', wwwImg]);
    expect(index).toMatch(/^<p class="/);
    expect(run('dumpe2fs', ['-h', wwwImg])).toMatch(/Filesystem volume name:\s+www/);

    const pg = env.volumes.find((v) => v.disk === 'pgdata')!;
    const pgImg = exportVolume(pg.volumeId, pg.sizeGiB);
    expect(run('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p magicnum', pgImg])).toContain('0x58465342');
    expect(run('xfs_db', ['-r', '-c', 'ls /base/16384', pgImg])).toContain('16385');

    const archive = env.volumes.find((v) => v.disk === 'archive')!;
    const archiveImg = exportVolume(archive.volumeId, archive.sizeGiB);
    const dump = run('sfdisk', ['--dump', archiveImg]);
    expect(dump).toContain('label: gpt');
    expect(dump).toMatch(/start=\s*2048/);
    const part = `${archiveImg}?offset=${archive.partitionOffset}`;
    expect(run('debugfs', ['-R', 'ls /archive', part])).toContain('app-2024-05-01.log');
  });

  it('is idempotent, also after a restart on the same data folder', async () => {
    const again = await seedDemo(sb);
    expect(again.seconds).toBe(0);
    expect(again.instances).toEqual(env.instances);
    await sb.close();
    sb = await startSandbox({ dataDir: join(dir, 'data') });
    const third = await seedDemo(sb);
    expect(third.seconds).toBe(0);
    const east = client(0, env.regions[0]);
    const all = await east.send(new DescribeInstancesCommand({}));
    expect(all.Reservations!.flatMap((r) => r.Instances!)).toHaveLength(3);
    east.destroy();
  });
});
