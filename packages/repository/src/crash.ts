/**
 * Named crash points for deterministic crash tests: the CLI sets LIFEBOAT_CRASH_AT=name[:n] and the process kills
 * itself with SIGKILL the n-th time (default 1st) it reaches that point, as a power cut or kill -9 would: no
 * finally blocks, no cleanup. Without the variable this is a no-op.
 */
let target: { name: string; remaining: number } | undefined;

export function armCrashPoint(spec: string | undefined): void {
  if (!spec) return;
  const [name, n] = spec.split(':');
  target = { name: name!, remaining: n ? Number(n) : 1 };
}

export function crashPoint(name: string): void {
  if (!target || target.name !== name) return;
  if (--target.remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
