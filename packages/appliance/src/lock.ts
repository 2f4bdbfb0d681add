import { readFileSync } from 'node:fs';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ApplianceError } from './errors.js';

/**
 * One appliance per data folder. The lock file names its owner by pid and the process's start time (from
 * /proc), so a lock left by a killed appliance is recognised as stale even when its pid was reused.
 */
interface Owner {
  pid: number;
  start: string | null;
  host: string;
  since: string;
}

export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(owner: Owner): boolean {
  if (owner.host !== hostname()) return true; // another machine's appliance on shared storage: never steal
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = processStart(owner.pid);
  return start === null || owner.start === null || start === owner.start;
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static async acquire(path: string): Promise<DataDirLock> {
    const me: Owner = {
      pid: process.pid,
      start: processStart(process.pid),
      host: hostname(),
      since: new Date().toISOString(),
    };
    const temp = `${path}.${process.pid}`;
    await writeFile(temp, `${JSON.stringify(me)}\n`, { mode: 0o600 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(temp, path); // atomic: fails when a lock exists
          return new DataDirLock(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(path, err);
        }
        const owner = await readOwner(path);
        if (owner && alive(owner)) {
          throw new ApplianceError(
            'DATA_DIR_LOCKED',
            `another appliance (pid ${owner.pid} on ${owner.host}, since ${owner.since}) uses ${path.replace(/\/[^/]+$/, '')}: stop it first, or give another --data folder`,
          );
        }
        await unlink(path).catch(() => {}); // stale: its owner is gone
      }
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}

async function readOwner(path: string): Promise<Owner | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Owner;
  } catch {
    return null; // half-written by a killed appliance: stale
  }
}

function lockError(path: string, err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
    return new ApplianceError('DATA_DIR_LOCKED', `another appliance just took ${path}: stop it first`, {
      cause: err,
    });
  }
  return new ApplianceError('DATA_DIR_UNUSABLE', `cannot lock ${path}: ${(err as Error).message}`, {
    cause: err,
  });
}
