/**
 * The demo's instances, as data: where each runs, from which public image, its tags, protection, and the data
 * disks attached to it (by the name of a disk image built in disks.ts).
 */
export interface DemoInstanceSpec {
  name: string;
  region: 0 | 1;
  image: 'al2023' | 'debian';
  instanceType: string;
  subnet: 0 | 1;
  group?: 'web' | 'db';
  tags: Record<string, string>;
  protect?: boolean;
  stopped?: boolean;
  disks: Array<{ device: string; disk: 'www' | 'pgdata' | 'archive' | 'api'; name: string }>;
}

const prod = { Environment: 'prod' };
const dev = { Environment: 'dev' };

export const DEMO_INSTANCES: DemoInstanceSpec[] = [
  {
    name: 'web-1',
    region: 0,
    image: 'al2023',
    instanceType: 't3.medium',
    subnet: 0,
    group: 'web',
    tags: { ...prod, App: 'web' },
    disks: [{ device: '/dev/sdf', disk: 'www', name: 'web-1-www' }],
  },
  {
    name: 'db-1',
    region: 0,
    image: 'debian',
    instanceType: 'r6i.large',
    subnet: 1,
    group: 'db',
    tags: { ...prod, App: 'db', Backup: 'daily' },
    protect: true,
    disks: [
      { device: '/dev/sdf', disk: 'pgdata', name: 'db-1-pgdata' },
      { device: '/dev/sdg', disk: 'archive', name: 'db-1-archive' },
    ],
  },
  {
    name: 'api-dev',
    region: 0,
    image: 'debian',
    instanceType: 't3.small',
    subnet: 0,
    group: 'web',
    tags: { ...dev, App: 'api' },
    disks: [{ device: '/dev/sdf', disk: 'api', name: 'api-dev-data' }],
  },
  {
    name: 'web-eu-1',
    region: 1,
    image: 'al2023',
    instanceType: 't3.medium',
    subnet: 0,
    group: 'web',
    tags: { ...prod, App: 'web' },
    disks: [{ device: '/dev/sdf', disk: 'www', name: 'web-eu-1-www' }],
  },
  {
    name: 'batch-dev',
    region: 1,
    image: 'debian',
    instanceType: 'c6i.large',
    subnet: 1,
    tags: { ...dev, App: 'batch' },
    stopped: true,
    disks: [],
  },
];
