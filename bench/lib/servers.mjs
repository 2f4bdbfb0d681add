// Server processes a benchmark starts (sandboxes, bare servers): stopped on every way out of the benchmark, so
// that a failed or interrupted run leaves none running (issue 14).
import { constants } from 'node:os';

/**
 * First statement of a server's `node -e` script, spawned with stdin 'pipe': the server exits when its stdin
 * closes, i.e. when the benchmark is gone, however it went (even SIGKILL).
 */
export const ORPHAN_GUARD = `process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;

/**
 * Kills `children` (an array of ChildProcess, read when it runs; more may be pushed later) and then runs `cleanUp`
 * (synchronous) on every way out: a normal end or process.exit() ('exit'), SIGINT/SIGTERM/SIGHUP (exit 128+n),
 * an uncaught error or unhandled rejection (exit 1, after printing it).
 */
export function stopOnExit(children, cleanUp = () => {}) {
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    for (const c of children) {
      if (!c.killed && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    cleanUp();
  };
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`benchmark stopped by ${signal}`);
      process.exit(128 + constants.signals[signal]);
    });
  }
  const fail = (e) => {
    console.error(`benchmark failed: ${e?.stack ?? e}`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}
