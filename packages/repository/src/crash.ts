/**
 * Named checkpoints for deterministic crash and interleaving tests.
 * - Crash: the CLI sets LIFEBOAT_CRASH_AT=name[:n] and the process kills itself with SIGKILL the n-th time
 *   (default 1st) it reaches that checkpoint, as a power cut or kill -9 would: no finally blocks, no cleanup.
 * - Interleave: an in-process test installs a hook that is awaited at every checkpoint, so that it can pause one
 *   operation at a precise step and run another.
 * Without either, a checkpoint costs one comparison.
 */
let target: { name: string; remaining: number } | undefined;
let hook: ((name: string) => void | Promise<void>) | undefined;

export function armCrashPoint(spec: string | undefined): void {
  if (!spec) return;
  // Checkpoint names contain colons themselves (backup:after-index): the count is an optional last ":<digits>".
  const m = /^(.*?)(?::(\d+))?$/.exec(spec)!;
  target = { name: m[1]!, remaining: m[2] ? Number(m[2]) : 1 };
}

export function setCheckpointHook(fn: ((name: string) => void | Promise<void>) | undefined): void {
  hook = fn;
}

export async function checkpoint(name: string): Promise<void> {
  if (target?.name === name && --target.remaining <= 0) process.kill(process.pid, 'SIGKILL');
  if (hook) await hook(name);
}

/** All checkpoint names, for tests that visit each one. */
export const CHECKPOINTS = [
  'init:key-slot-stored',
  'session:started',
  'session:renewed',
  'backup:data-pack-stored',
  'backup:tree-pack-stored',
  'backup:before-index',
  'backup:after-index',
  'backup:disk-done',
  'backup:before-manifest',
  'backup:after-manifest',
  'lease:acquired',
  'lease:renewed',
  'forget:manifest-deleted',
  'prune:after-mark',
  'prune:repack-pack-stored',
  'prune:repack-index-stored',
  'prune:before-plan',
  'prune:plan-stored',
  'prune:superseding-index-stored',
  'prune:superseded-index-deleted',
  'prune:pack-deleted',
  'prune:before-plan-delete',
  'prune:plan-completed',
  'passwd:slot-added',
] as const;
