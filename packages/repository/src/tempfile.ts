import { openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Temporary files of a restore: `.<target name>.<pid>-<start time>.lifeboat-tmp` beside the target, renamed over it
 * only when complete. The name carries its owner, so that the next restore of the same target removes what a
 * killed restore left (kill -9, a power cut) and never touches the file of a restore that is still running. The
 * start time (field 22 of /proc/<pid>/stat, clock ticks since boot) tells a live owner from a later process that
 * got the same pid; where /proc is missing it is 0 and the pid alone decides.
 */
const SUFFIX = '.lifeboat-tmp';
/** Names of builds before owners were named: `.<target name>.<12 hex>.lifeboat-tmp`. */
const LEGACY = /^[0-9a-f]{12}$/;
/** A legacy temporary file untouched this long belongs to no running restore (a restore writes all along). */
const LEGACY_STALE_MS = 15 * 60 * 1000;

export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 (the command) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]); // field 22; fields[0] is field 3
    return Number.isSafeInteger(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

let ownStart: number | undefined;

/** `<pid>-<start time>` of this process. */
export function ownerTag(): string {
  ownStart ??= processStartTime(process.pid) ?? 0;
  return `${process.pid}-${ownStart}`;
}

/** Whether the process named by a temporary file's owner tag is still the one that created it. */
export function ownerAlive(pid: number, start: number): boolean {
  if (pid === process.pid) return start === 0 || start === (processStartTime(pid) ?? start);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === 0) return true; // no start time recorded: the pid alone decides
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

function parse(target: string, name: string): { pid: number; start: number } | 'legacy' | undefined {
  const head = `.${basename(target)}.`;
  if (!name.startsWith(head) || !name.endsWith(SUFFIX)) return undefined;
  const owner = name.slice(head.length, name.length - SUFFIX.length);
  if (LEGACY.test(owner)) return 'legacy';
  const m = /^(\d+)-(\d+)(?:-\d+)?$/.exec(owner);
  return m ? { pid: Number(m[1]), start: Number(m[2]) } : undefined;
}

/**
 * Removes the temporary files of restores of `target` whose owner is gone; returns their paths. Those of live
 * owners (a concurrent restore, this process's own) are left alone.
 */
export function removeStaleTemporaries(target: string): string[] {
  const dir = dirname(target);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = parse(target, name);
    if (!owner) continue;
    const path = join(dir, name);
    try {
      const stale =
        owner === 'legacy'
          ? Date.now() - statSync(path).mtimeMs > LEGACY_STALE_MS
          : !ownerAlive(owner.pid, owner.start);
      if (!stale) continue;
      unlinkSync(path);
      removed.push(path);
    } catch {
      // removed by another process meanwhile
    }
  }
  return removed;
}

/** Creates (exclusively) this process's temporary file for `target`; returns its path and descriptor. */
export function createTemporary(target: string): { path: string; fd: number } {
  const base = join(dirname(target), `.${basename(target)}.${ownerTag()}`);
  for (let n = 0; ; n++) {
    const path = `${base}${n === 0 ? '' : `-${n}`}${SUFFIX}`;
    try {
      return { path, fd: openSync(path, 'wx') };
    } catch (err) {
      // Another restore of the same target in this process: take the next number.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 1000) throw err;
    }
  }
}
