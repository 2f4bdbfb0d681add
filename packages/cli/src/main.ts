import { armCrashPoint } from '@lifeboat/repository';
import { CommanderError } from 'commander';
import { describe, EXIT, exitCodeOf } from './errors.js';
import { buildProgram } from './program.js';

async function main(): Promise<void> {
  // A reader that stops early (lifeboat image cat ... | head) is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    // Thrown here it would be an uncaught exception (a stack trace): one line, as every error.
    process.stderr.write(`error: cannot write to standard output: ${err.message}\n`);
    process.exit(EXIT.failure);
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
