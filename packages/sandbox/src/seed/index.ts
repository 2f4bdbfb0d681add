import { rmSync } from 'node:fs';
import type { Tag } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { callEc2 } from '../ec2/index.js';
import type { RunningSandbox } from '../sandbox.js';
import { backdate, backdateInstances } from './backdate.js';
import { buildDemoDisks, type DiskImage } from './disks.js';
import { demoPublicKey } from './keys.js';
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

type Ec2 = (action: string, params?: Record<string, unknown>) => Record<string, unknown>;

function ec2(ctx: SandboxContext, accountId: string, region: string): Ec2 {
  return (action, params = {}) => callEc2(ctx, accountId, region, action, params) as Record<string, unknown>;
}

/** A string member deep in an answer, e.g. at(r, 'instancesSet', 0, 'instanceId'). */
function at(o: unknown, ...path: Array<string | number>): string {
  let v: unknown = o;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return String(v);
}

const tagSpec = (type: string, tags: Record<string, string>) => ({
  ResourceType: type,
  Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});
const tagList = (tags: Record<string, string>): Tag[] =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

interface Network {
  subnets: string[];
  web: string;
  db: string;
  images: { al2023: string; debian: string };
}

/** A VPC with two subnets, web and db security groups and a key pair, in one region of one account. */
function network(call: Ec2, cidrPrefix: string, zones: readonly string[], name: string): Network {
  const vpcId = at(
    call('CreateVpc', {
      CidrBlock: `${cidrPrefix}.0.0/16`,
      TagSpecification: [tagSpec('vpc', { Name: name })],
    }),
    'vpc',
    'vpcId',
  );
  const subnets = [1, 2].map((n) =>
    at(
      call('CreateSubnet', {
        VpcId: vpcId,
        CidrBlock: `${cidrPrefix}.${n}.0/24`,
        AvailabilityZone: zones[n - 1],
        TagSpecification: [tagSpec('subnet', { Name: `${name}-${n === 1 ? 'a' : 'b'}` })],
      }),
      'subnet',
      'subnetId',
    ),
  );
  const web = at(
    call('CreateSecurityGroup', { GroupName: 'web', GroupDescription: 'web servers', VpcId: vpcId }),
    'groupId',
  );
  const db = at(
    call('CreateSecurityGroup', { GroupName: 'db', GroupDescription: 'databases', VpcId: vpcId }),
    'groupId',
  );
  call('AuthorizeSecurityGroupIngress', {
    GroupId: web,
    IpProtocol: 'tcp',
    FromPort: 443,
    ToPort: 443,
    CidrIp: '0.0.0.0/0',
  });
  call('AuthorizeSecurityGroupIngress', {
    GroupId: db,
    IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, Groups: [{ GroupId: web }] }],
  });
  call('ImportKeyPair', {
    KeyName: 'prod-ops',
    PublicKeyMaterial: Buffer.from(demoPublicKey()).toString('base64'),
  });
  const images = call('DescribeImages', { Owner: ['amazon'] }).imagesSet as Array<{
    name: string;
    imageId: string;
  }>;
  const find = (prefix: string) => images.find((i) => i.name.startsWith(prefix))!.imageId;
  return { subnets, web, db, images: { al2023: find('al2023-'), debian: find('debian-12-') } };
}

/**
 * Creates the demo environment, deterministically: production and backup accounts (the sandbox's first two),
 * in its first two regions; in production a VPC per region, five tagged instances (one stopped, one with three
 * volumes), data volumes holding real ext4, XFS and GPT-partitioned file systems, a manual snapshot and an
 * image. Idempotent: a seeded data folder is left as it is.
 */
export async function seedDemo(sandbox: SeedTarget): Promise<DemoEnvironment> {
  const { ctx } = sandbox;
  const marks = ctx.state.table<{ id: string; at: string; env: DemoEnvironment }>('ec2.marks');
  const done = marks.get(MARK);
  if (done) return { ...done.env, seconds: 0 };
  const started = performance.now();
  const production = sandbox.accounts[0]!.accountId;
  const backup = sandbox.accounts[1]!.accountId;
  const [r1, r2] = [sandbox.regions[0]!, sandbox.regions[1]!];
  const work = scratchDir('lifeboat-seed-');
  try {
    const disks = await buildDemoDisks(work);
    const env: DemoEnvironment = {
      production,
      backup,
      regions: [r1.name, r2.name],
      instances: [],
      volumes: [],
      snapshots: [],
      images: [],
      seconds: 0,
    };
    const launch = (
      call: Ec2,
      region: string,
      name: string,
      params: Record<string, unknown>,
      tags: Record<string, string>,
    ) => {
      const r = call('RunInstances', {
        MinCount: 1,
        MaxCount: 1,
        KeyName: 'prod-ops',
        ClientToken: `demo-${region}-${name}`,
        TagSpecification: [
          tagSpec('instance', { Name: name, ...tags }),
          tagSpec('volume', { Name: `${name}-root`, ...tags }),
        ],
        ...params,
      });
      const instanceId = at(r, 'instancesSet', 0, 'instanceId');
      backdateInstances(ctx, [instanceId], 24 * 3600); // running already, so that disks can be attached
      env.instances.push({ name, instanceId, accountId: production, region, state: 'running' });
      return instanceId;
    };
    const attachDisk = (
      call: Ec2,
      region: string,
      zone: string,
      instanceId: string,
      device: string,
      disk: DiskImage,
      tags: Record<string, string>,
    ) => {
      const vol = sandbox.createVolume({
        accountId: production,
        region,
        az: zone,
        sizeGiB: disk.sizeGiB,
        volumeType: 'gp3',
        tags: tagList(tags),
      });
      forEachDataBlock(disk.path, 0, (offset, data) => sandbox.writeVolume(vol.volumeId, offset, data));
      call('AttachVolume', { VolumeId: vol.volumeId, InstanceId: instanceId, Device: device });
      env.volumes.push({
        disk: disk.name,
        volumeId: vol.volumeId,
        instanceId,
        device,
        region,
        sizeGiB: disk.sizeGiB,
        layout: disk.layout,
        partitionOffset: disk.partitionOffset,
      });
      return vol.volumeId;
    };

    // Production, first region: web, database (three volumes, protected), a dev API server.
    const p1 = ec2(ctx, production, r1.name);
    const n1 = network(p1, '10.0', r1.zones, 'prod-vpc');
    const prod = { Environment: 'prod' };
    const web1 = launch(
      p1,
      r1.name,
      'web-1',
      {
        ImageId: n1.images.al2023,
        InstanceType: 't3.medium',
        SubnetId: n1.subnets[0],
        SecurityGroupId: [n1.web],
      },
      { ...prod, App: 'web' },
    );
    attachDisk(p1, r1.name, r1.zones[0]!, web1, '/dev/sdf', disks.www, {
      Name: 'web-1-www',
      ...prod,
      App: 'web',
    });
    const db1 = launch(
      p1,
      r1.name,
      'db-1',
      {
        ImageId: n1.images.debian,
        InstanceType: 'r6i.large',
        SubnetId: n1.subnets[1],
        SecurityGroupId: [n1.db],
        DisableApiTermination: true,
      },
      { ...prod, App: 'db', Backup: 'daily' },
    );
    const pg = attachDisk(p1, r1.name, r1.zones[1]!, db1, '/dev/sdf', disks.pgdata, {
      Name: 'db-1-pgdata',
      ...prod,
      App: 'db',
    });
    attachDisk(p1, r1.name, r1.zones[1]!, db1, '/dev/sdg', disks.archive, {
      Name: 'db-1-archive',
      ...prod,
      App: 'db',
    });
    const dev = { Environment: 'dev' };
    const api = launch(
      p1,
      r1.name,
      'api-dev',
      {
        ImageId: n1.images.debian,
        InstanceType: 't3.small',
        SubnetId: n1.subnets[0],
        SecurityGroupId: [n1.web],
      },
      { ...dev, App: 'api' },
    );
    attachDisk(p1, r1.name, r1.zones[0]!, api, '/dev/sdf', disks.api, {
      Name: 'api-dev-data',
      ...dev,
      App: 'api',
    });

    // Production, second region: a web server (same content as web-1) and a stopped batch machine.
    const p2 = ec2(ctx, production, r2.name);
    const n2 = network(p2, '10.1', r2.zones, 'prod-vpc');
    const webEu = launch(
      p2,
      r2.name,
      'web-eu-1',
      {
        ImageId: n2.images.al2023,
        InstanceType: 't3.medium',
        SubnetId: n2.subnets[0],
        SecurityGroupId: [n2.web],
      },
      { ...prod, App: 'web' },
    );
    attachDisk(p2, r2.name, r2.zones[0]!, webEu, '/dev/sdf', disks.www, {
      Name: 'web-eu-1-www',
      ...prod,
      App: 'web',
    });
    const batch = launch(
      p2,
      r2.name,
      'batch-dev',
      { ImageId: n2.images.debian, InstanceType: 'c6i.large', SubnetId: n2.subnets[1] },
      { ...dev, App: 'batch' },
    );

    // History: a manual snapshot of the database volume, and an image made from web-1's root volume.
    const snap = p1('CreateSnapshot', {
      VolumeId: pg,
      Description: 'db-1 pgdata before upgrade',
      TagSpecification: [tagSpec('snapshot', { Name: 'db-1-pgdata-manual', ...prod, App: 'db' })],
    });
    env.snapshots.push(at(snap, 'snapshotId'));
    const vols = p1('DescribeVolumes', {
      Filter: [
        { Name: 'attachment.instance-id', Value: [web1] },
        { Name: 'attachment.device', Value: ['/dev/xvda'] },
      ],
    });
    const rootSnap = at(
      p1('CreateSnapshot', {
        VolumeId: at(vols, 'volumeSet', 0, 'volumeId'),
        Description: 'web-1 root for golden image',
      }),
      'snapshotId',
    );
    env.snapshots.push(rootSnap);
    const image = p1('RegisterImage', {
      Name: 'web-golden-2024-06',
      RootDeviceName: '/dev/xvda',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      BlockDeviceMapping: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: rootSnap, VolumeType: 'gp3' } }],
      TagSpecification: [tagSpec('image', { Name: 'web-golden', ...prod, App: 'web' })],
    });
    env.images.push(at(image, 'imageId'));

    // The backup account: a VPC to restore into in each region.
    for (const [i, r] of [r1, r2].entries()) {
      ec2(
        ctx,
        backup,
        r.name,
      )('CreateVpc', {
        CidrBlock: `10.${50 + i}.0.0/16`,
        TagSpecification: [tagSpec('vpc', { Name: 'restore-vpc' })],
      });
    }

    // Everything was made a day ago, so that it is running/available/completed now; then batch-dev is stopped.
    backdate(ctx, [production, backup], 24 * 3600);
    p2('StopInstances', { InstanceId: [batch] });
    backdateInstances(ctx, [batch], 3600);
    env.instances.find((i) => i.instanceId === batch)!.state = 'stopped';

    env.seconds = (performance.now() - started) / 1000;
    marks.put(MARK, { id: MARK, at: new Date(ctx.now()).toISOString(), env });
    return env;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
