import { readFileSync } from 'node:fs';
import { LocalStore, type Progress, Repository, recoveryUnlocker, type Store } from '@lifeboat/repository';
import type { Command } from 'commander';
import { EXIT, UsageError } from './errors.js';
import { readPassword } from './password.js';
import { silentProgress, TerminalProgress } from './progress.js';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  recoveryKeyFile?: string;
  kms?: boolean;
  json?: boolean;
  quiet?: boolean;
  /** false with --no-direct-io */
  directIo?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** The store a --repo / LIFEBOAT_REPO location names. */
export async function storeFor(opts: GlobalOptions): Promise<Store> {
  const location = opts.repo ?? process.env.LIFEBOAT_REPO;
  if (!location) throw new UsageError('no repository: pass --repo or set LIFEBOAT_REPO');
  if (location.startsWith('s3:')) {
    // Loaded on demand: local repositories need no AWS SDK. Credentials come from the usual AWS variables and
    // profiles; the region from AWS_REGION (default us-east-1).
    const { S3Store } = await import('@lifeboat/aws');
    return new S3Store(location);
  }
  if (/^[a-z0-9]+:/i.test(location) && !location.startsWith('local:')) {
    throw new UsageError(
      `"${location}": repositories live in a local folder (a path) or in S3 (s3:BUCKET/PREFIX)`,
    );
  }
  return new LocalStore(location.replace(/^local:/, ''), { directIo: opts.directIo });
}

export async function openRepository(opts: GlobalOptions): Promise<Repository> {
  const store = await storeFor(opts);
  await Repository.readConfig(store); // refuse a missing or unknown repository before asking for a password
  const recovery = opts.recoveryKeyFile
    ? readFirstLine(opts.recoveryKeyFile)
    : process.env.LIFEBOAT_RECOVERY_KEY;
  if (recovery) return Repository.openWith(store, [recoveryUnlocker(recovery)]);
  if (opts.kms) {
    const { kmsUnlocker } = await import('@lifeboat/aws');
    return Repository.openWith(store, [kmsUnlocker()]);
  }
  const password = await readPassword({
    passwordFile: opts.passwordFile,
    env: 'LIFEBOAT_PASSWORD',
    prompt: 'Repository password: ',
  });
  return Repository.open(store, password);
}

function readFirstLine(file: string): string {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export function progressFor(opts: GlobalOptions): Progress {
  return opts.quiet ? silentProgress : new TerminalProgress();
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * An abort signal raised by the first SIGINT or SIGTERM, so that a long command stops between steps and removes
 * what it had half-written; a second signal ends the process at once.
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('\ninterrupting: cleaning up (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
