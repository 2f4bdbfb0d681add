import { join } from 'node:path';
import { type FileSpec, writeTree } from './files.js';
import { makeExt4Async, makeGptDisk, makeXfsAsync } from './mkfs.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface DiskImage {
  name: string;
  path: string;
  sizeGiB: number;
  /** What a reader finds there, for the demo's summary and the tests. */
  layout: 'ext4' | 'xfs' | 'gpt+ext4';
  partitionOffset?: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A web server's document root: pages, images (some duplicated), an access log. About 24 MiB. */
function wwwFiles(): FileSpec[] {
  return [
    { path: 'html/index.html', kind: 'text', style: 'html', bytes: 20_000 },
    { path: 'html/about.html', kind: 'text', style: 'html', bytes: 8_000 },
    ...range(12).map(
      (i): FileSpec => ({ path: `html/assets/img-${pad(i)}.jpg`, kind: 'binary', bytes: 1_500_000 }),
    ),
    { path: 'html/assets/app.js', kind: 'text', style: 'conf', bytes: 400_000 },
    ...range(3).map(
      (i): FileSpec => ({
        path: `backup/img-${pad(i)}.jpg`,
        kind: 'copy',
        from: `html/assets/img-${pad(i)}.jpg`,
      }),
    ),
    { path: 'logs/access.log', kind: 'text', style: 'log', bytes: 4_000_000 },
    { path: 'logs/error.log', kind: 'text', style: 'log', bytes: 300_000 },
  ];
}

/** A PostgreSQL data directory: relation segments, WAL (one recycled copy), config and logs. About 60 MiB. */
function pgdataFiles(): FileSpec[] {
  return [
    { path: 'PG_VERSION', kind: 'literal', content: '16\n' },
    { path: 'postgresql.conf', kind: 'text', style: 'conf', bytes: 30_000 },
    { path: 'global/pg_control', kind: 'binary', bytes: 8192 },
    ...range(5).map((i): FileSpec => ({ path: `base/16384/${16385 + i}`, kind: 'binary', bytes: 8 * MiB })),
    { path: 'pg_wal/000000010000000000000001', kind: 'binary', bytes: 8 * MiB },
    { path: 'pg_wal/000000010000000000000002', kind: 'copy', from: 'pg_wal/000000010000000000000001' },
    { path: 'log/postgresql-2024-06-01.log', kind: 'text', style: 'log', bytes: 4 * MiB },
  ];
}

/** Archived logs and CSV exports on a partitioned disk. About 14 MiB. */
function archiveFiles(): FileSpec[] {
  return [
    ...range(6).map(
      (i): FileSpec => ({
        path: `archive/app-2024-05-${pad(i + 1)}.log`,
        kind: 'text',
        style: 'log',
        bytes: 2 * MiB,
      }),
    ),
    { path: 'exports/orders.csv', kind: 'text', style: 'csv', bytes: 2 * MiB },
    { path: 'exports/orders-copy.csv', kind: 'copy', from: 'exports/orders.csv' },
  ];
}

/** An API server's data: configuration, fixtures, uploads. About 9 MiB. */
function apiFiles(): FileSpec[] {
  return [
    { path: 'config/app.conf', kind: 'text', style: 'conf', bytes: 12_000 },
    ...range(4).map(
      (i): FileSpec => ({ path: `fixtures/set-${i}.csv`, kind: 'text', style: 'csv', bytes: 1 * MiB }),
    ),
    ...range(4).map((i): FileSpec => ({ path: `uploads/blob-${i}.bin`, kind: 'binary', bytes: 1 * MiB })),
    { path: 'uploads/blob-0-again.bin', kind: 'copy', from: 'uploads/blob-0.bin' },
  ];
}

/**
 * Builds every demo disk image in workDir (sparse files). Each mkfs runs while the next tree is generated, so
 * that a second core shortens the wait.
 */
export async function buildDemoDisks(
  workDir: string,
): Promise<Record<'www' | 'pgdata' | 'archive' | 'api', DiskImage>> {
  const tree = (name: string, files: FileSpec[]) => {
    const dir = join(workDir, `${name}-tree`);
    writeTree(dir, `demo:${name}`, files);
    return dir;
  };
  const www = join(workDir, 'www.img');
  const pgdata = join(workDir, 'pgdata.img');
  const archiveFs = join(workDir, 'archive-fs.img');
  const archive = join(workDir, 'archive.img');
  const api = join(workDir, 'api.img');
  const jobs: Array<Promise<unknown>> = [];
  jobs.push(
    makeXfsAsync(
      pgdata,
      4 * GiB,
      tree('pgdata', pgdataFiles()),
      { label: 'pgdata', uuid: '9a8b7c6d-5e4f-4321-9876-fedcba987654' },
      workDir,
    ),
  );
  jobs.push(
    makeExt4Async(www, 2 * GiB, tree('www', wwwFiles()), {
      label: 'www',
      uuid: '3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b',
    }),
  );
  const archiveDone = makeExt4Async(archiveFs, GiB - 2 * MiB, tree('archive', archiveFiles()), {
    label: 'archive',
    uuid: '0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e7f',
  }).then(() =>
    makeGptDisk(
      archive,
      GiB,
      archiveFs,
      '7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a',
      '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
    ),
  );
  jobs.push(
    makeExt4Async(api, GiB, tree('api', apiFiles()), {
      label: 'api',
      uuid: '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9',
    }),
  );
  const [offset] = await Promise.all([archiveDone, ...jobs]);
  return {
    www: { name: 'www', path: www, sizeGiB: 2, layout: 'ext4' },
    pgdata: { name: 'pgdata', path: pgdata, sizeGiB: 4, layout: 'xfs' },
    archive: {
      name: 'archive',
      path: archive,
      sizeGiB: 1,
      layout: 'gpt+ext4',
      partitionOffset: offset as number,
    },
    api: { name: 'api', path: api, sizeGiB: 1, layout: 'ext4' },
  };
}
