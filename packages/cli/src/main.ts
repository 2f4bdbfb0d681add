import { armCrashPoint } from '@lifeboat/repository';
import { CommanderError } from 'commander';
import { describe, EXIT, exitCodeOf } from './errors.js';
import { buildProgram } from './program.js';

/**
 * One untouched 16 MiB block, freed by the first GC, raises glibc's dynamic mmap and trim thresholds (mallopt(3)):
 * freed heap is then kept for reuse instead of going back to the kernel after each GC, so the chunks, packs and
 * SDK bodies of a backup do not land on fresh pages again and again (on this VM a 4 GiB full backup spent 3-11
 * CPU-s in the kernel without it, 1.3-1.8 with it). The sandbox does the same (its server/malloc.ts).
 */
function keepFreedMemory(): void {
  Buffer.allocUnsafeSlow(16 * 1024 * 1024);
}

async function main(): Promise<void> {
  keepFreedMemory();
  // A reader that stops early (lifeboat image cat ... | head) is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  armCrashPoint(process.env.LIFEBOAT_CRASH_AT); // deterministic crash tests only
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (and help where useful)
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const line = describe(err);
    if (line) process.stderr.write(`${line}\n`);
    if (process.env.LIFEBOAT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeOf(err);
  }
}

await main();
