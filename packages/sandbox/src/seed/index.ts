import { rmSync } from 'node:fs';
import type { RegionInfo } from '../core/model.js';
import type { RunningSandbox } from '../sandbox.js';
import { backdate, backdateInstances } from './backdate.js';
import { at, type Ec2, ec2, tagList, tagSpec } from './calls.js';
import { buildDemoDisks, type DiskImage } from './disks.js';
import { DEMO_INSTANCES, type DemoInstanceSpec } from './layout.js';
import { type Network, network } from './network.js';
import { forEachDataBlock } from './sparse.js';
import { scratchDir } from './workdir.js';

/** What seedDemo needs of a running sandbox: its context and the admin volume operations. */
export type SeedTarget = Pick<
  RunningSandbox,
  'ctx' | 'accounts' | 'regions' | 'createVolume' | 'writeVolume'
>;

export interface DemoInstance {
  name: string;
  instanceId: string;
  accountId: string;
  region: string;
  state: 'running' | 'stopped';
}

export interface DemoVolume {
  disk: string;
  volumeId: string;
  instanceId: string;
  device: string;
  region: string;
  sizeGiB: number;
  layout: DiskImage['layout'];
  partitionOffset?: number;
}

export interface DemoEnvironment {
  production: string;
  backup: string;
  regions: [string, string];
  instances: DemoInstance[];
  volumes: DemoVolume[];
  snapshots: string[];
  images: string[];
  /** Wall-clock seconds the seeding took (0 when the data folder was already seeded). */
  seconds: number;
}

const MARK = 'seed:demo';
const DAY = 24 * 3600;

interface Region {
  info: RegionInfo;
  call: Ec2;
  net: Network;
}

/** Launches one demo instance and attaches its data disks, whose content is written as an OS would. */
function instance(
  sb: SeedTarget,
  env: DemoEnvironment,
  r: Region,
  spec: DemoInstanceSpec,
  disks: Record<string, DiskImage>,
) {
  const subnet = r.net.subnets[spec.subnet];
  const launched = r.call('RunInstances', {
    ImageId: r.net.images[spec.image],
    InstanceType: spec.instanceType,
    MinCount: 1,
    MaxCount: 1,
    SubnetId: subnet,
    SecurityGroupId: spec.group ? [r.net.groups[spec.group]] : undefined,
    KeyName: 'prod-ops',
    DisableApiTermination: spec.protect,
    ClientToken: `demo-${r.info.name}-${spec.name}`,
    TagSpecification: [
      tagSpec('instance', { Name: spec.name, ...spec.tags }),
      tagSpec('volume', { Name: `${spec.name}-root`, ...spec.tags }),
    ],
  });
  const instanceId = at(launched, 'instancesSet', 0, 'instanceId');
  backdateInstances(sb.ctx, [instanceId], DAY); // running already, so that disks can be attached
  env.instances.push({
    name: spec.name,
    instanceId,
    accountId: env.production,
    region: r.info.name,
    state: 'running',
  });
  const zone = at(launched, 'instancesSet', 0, 'placement', 'availabilityZone');
  for (const d of spec.disks) {
    const disk = disks[d.disk]!;
    const vol = sb.createVolume({
      accountId: env.production,
      region: r.info.name,
      az: zone,
      sizeGiB: disk.sizeGiB,
      volumeType: 'gp3',
      tags: tagList({ Name: d.name, ...spec.tags }),
    });
    forEachDataBlock(disk.path, 0, (offset, data) => sb.writeVolume(vol.volumeId, offset, data));
    r.call('AttachVolume', { VolumeId: vol.volumeId, InstanceId: instanceId, Device: d.device });
    env.volumes.push({
      disk: disk.name,
      volumeId: vol.volumeId,
      instanceId,
      device: d.device,
      region: r.info.name,
      sizeGiB: disk.sizeGiB,
      layout: disk.layout,
      partitionOffset: disk.partitionOffset,
    });
  }
}

/** Some history: a manual snapshot of the database volume, and an image made from web-1's root volume. */
function history(env: DemoEnvironment, call: Ec2): void {
  const pg = env.volumes.find((v) => v.disk === 'pgdata')!;
  const tags = { Environment: 'prod', App: 'db' };
  const snap = call('CreateSnapshot', {
    VolumeId: pg.volumeId,
    Description: 'db-1 pgdata before upgrade',
    TagSpecification: [tagSpec('snapshot', { Name: 'db-1-pgdata-manual', ...tags })],
  });
  env.snapshots.push(at(snap, 'snapshotId'));
  const web1 = env.instances.find((i) => i.name === 'web-1')!.instanceId;
  const roots = call('DescribeVolumes', {
    Filter: [
      { Name: 'attachment.instance-id', Value: [web1] },
      { Name: 'attachment.device', Value: ['/dev/xvda'] },
    ],
  });
  const rootSnap = at(
    call('CreateSnapshot', {
      VolumeId: at(roots, 'volumeSet', 0, 'volumeId'),
      Description: 'web-1 root for golden image',
    }),
    'snapshotId',
  );
  env.snapshots.push(rootSnap);
  const image = call('RegisterImage', {
    Name: 'web-golden-2024-06',
    RootDeviceName: '/dev/xvda',
    Architecture: 'x86_64',
    VirtualizationType: 'hvm',
    BlockDeviceMapping: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: rootSnap, VolumeType: 'gp3' } }],
    TagSpecification: [tagSpec('image', { Name: 'web-golden', Environment: 'prod', App: 'web' })],
  });
  env.images.push(at(image, 'imageId'));
}

/**
 * Creates the demo environment, deterministically: production and backup accounts (the sandbox's first two),
 * in its first two regions; in production a VPC per region, five tagged instances (one stopped, one with three
 * volumes), data volumes holding real ext4, XFS and GPT-partitioned file systems, a manual snapshot and an
 * image; in backup a VPC per region to restore into. Idempotent: a seeded data folder is left as it is.
 */
export async function seedDemo(sandbox: SeedTarget): Promise<DemoEnvironment> {
  const { ctx } = sandbox;
  const marks = ctx.state.table<{ id: string; at: string; env: DemoEnvironment }>('ec2.marks');
  const done = marks.get(MARK);
  if (done) return { ...done.env, seconds: 0 };
  const started = performance.now();
  const infos = [sandbox.regions[0]!, sandbox.regions[1]!];
  const env: DemoEnvironment = {
    production: sandbox.accounts[0]!.accountId,
    backup: sandbox.accounts[1]!.accountId,
    regions: [infos[0]!.name, infos[1]!.name],
    instances: [],
    volumes: [],
    snapshots: [],
    images: [],
    seconds: 0,
  };
  const work = scratchDir('lifeboat-seed-');
  try {
    const disks = await buildDemoDisks(work);
    const regions: Region[] = infos.map((info, i) => {
      const call = ec2(ctx, env.production, info.name);
      return { info, call, net: network(call, `10.${i}`, info.zones, 'prod-vpc') };
    });
    for (const spec of DEMO_INSTANCES) instance(sandbox, env, regions[spec.region]!, spec, disks);
    history(env, regions[0]!.call);
    infos.forEach((info, i) => {
      ec2(
        ctx,
        env.backup,
        info.name,
      )('CreateVpc', {
        CidrBlock: `10.${50 + i}.0.0/16`,
        TagSpecification: [tagSpec('vpc', { Name: 'restore-vpc' })],
      });
    });
    // Everything was made a day ago, so that it is available/completed now; then the stopped ones are stopped.
    backdate(ctx, [env.production, env.backup], DAY);
    for (const spec of DEMO_INSTANCES.filter((s) => s.stopped)) {
      const demo = env.instances.find((i) => i.name === spec.name)!;
      regions[spec.region]!.call('StopInstances', { InstanceId: [demo.instanceId] });
      backdateInstances(ctx, [demo.instanceId], 3600);
      demo.state = 'stopped';
    }
    env.seconds = (performance.now() - started) / 1000;
    marks.put(MARK, { id: MARK, at: new Date(ctx.now()).toISOString(), env });
    return env;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
