import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';
import { launch } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ec2-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function client(sb: RunningSandbox): EC2Client {
  const a = sb.accounts[0]!;
  return new EC2Client({
    endpoint: sb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    maxAttempts: 1,
  });
}

describe('EC2 state across a restart', () => {
  it('keeps resources, and states keep moving from their timestamps', async () => {
    let sb = await startSandbox({ dataDir: dir, timing: { instanceSeconds: 1, snapshotSeconds: 1 } });
    let ec2 = client(sb);
    const [i] = await launch(ec2);
    const id = i!.InstanceId!;
    await new Promise((r) => setTimeout(r, 1100)); // real time: the clock offset does not survive a restart
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const vols = await ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }),
    );
    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vols.Volumes![0]!.VolumeId! }));
    ec2.destroy();
    await sb.close();

    await new Promise((r) => setTimeout(r, 1100));
    sb = await startSandbox({ dataDir: dir, timing: { instanceSeconds: 1, snapshotSeconds: 1 } });
    ec2 = client(sb);
    const after = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    expect(after.Reservations![0]!.Instances![0]!.State?.Name).toBe('stopped');
    const s = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap.SnapshotId!] }));
    expect(s.Snapshots![0]!.State).toBe('completed');
    const root = sb.ctx.blocks.readVolume(vols.Volumes![0]!.VolumeId!, 1024, 4096);
    expect(root.some((b) => b !== 0)).toBe(true);
    ec2.destroy();
    await sb.close();
  });
});
