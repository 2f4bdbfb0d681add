import { readFileSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import type { KeyRing, SecretKms } from '@lifeboat/appliance';
import type { Command } from 'commander';
import { print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { readPassword } from '../password.js';

/**
 * `lifeboat server`: the appliance daemon and its local chores. The API, the catalog's SQLite driver and the web
 * stack load only here (dynamic imports), so the repository commands never pay for them.
 */
const DEFAULT_LISTEN = '127.0.0.1:7420';

interface ServerFlags {
  data?: string;
  listen: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  adminUser: string;
  loginTtl: string;
  testMode?: boolean;
  inventoryInterval?: string;
  timezone?: string;
}

export function registerServer(program: Command): void {
  const server = program
    .command('server')
    .description('run the appliance (REST API, scheduler, job engine) on a data folder; needs no repository')
    .option('--data <dir>', 'data folder: catalog, certificate, lock (default: $XDG_DATA_HOME/lifeboat)')
    .option(
      '--listen <host:port>',
      'address to serve the API on; HTTPS anywhere but loopback',
      DEFAULT_LISTEN,
    )
    .option('--tls', 'serve HTTPS on loopback too')
    .option('--tls-cert <file>', "the operator's certificate (PEM) instead of the generated one")
    .option('--tls-key <file>', "the operator's private key (PEM) for --tls-cert")
    .option('--admin-user <name>', 'name of the first administrator (with LIFEBOAT_ADMIN_PASSWORD)', 'admin')
    .option('--login-ttl <hours>', 'how long a login lasts', '12')
    .option(
      '--inventory-interval <minutes>',
      'refresh the inventory every this many minutes, 0: only on demand (default: LIFEBOAT_INVENTORY_INTERVAL, else 15)',
    )
    .option('--timezone <zone>', 'time zone of policy schedules that name none (IANA name; default UTC)')
    .option('--test-mode', 'TESTS ONLY: a clock that POST /test/clock moves, and the test-only routes')
    .action(async (o: ServerFlags) => {
      const { startServer } = await import('@lifeboat/api');
      const { defaultDataDir, KeyRing, readSecretFileText, setSecretKms } = await import(
        '@lifeboat/appliance'
      );
      setSecretKms(cliKms());
      const { host, port } = parseListen(o.listen);
      if (Boolean(o.tlsCert) !== Boolean(o.tlsKey))
        throw new UsageError('--tls-cert and --tls-key go together');
      const ttl = Number(o.loginTtl);
      if (!(ttl > 0 && ttl <= 24 * 30))
        throw new UsageError('--login-ttl takes hours, from more than 0 to 720');
      let inventoryIntervalMs: number | undefined;
      if (o.inventoryInterval !== undefined) {
        const minutes = Number(o.inventoryInterval);
        if (o.inventoryInterval.trim() === '' || !(minutes >= 0 && minutes <= 7 * 24 * 60))
          throw new UsageError(
            '--inventory-interval takes minutes, from 0 (only on demand) to 10080 (a week)',
          );
        inventoryIntervalMs = Math.round(minutes * 60_000);
      }
      if (o.timezone !== undefined && !validZone(o.timezone)) {
        throw new UsageError(`--timezone ${o.timezone}: not an IANA time zone (e.g. Europe/Berlin, UTC)`);
      }
      const dataDir = o.data ?? defaultDataDir();
      const password = process.env.LIFEBOAT_ADMIN_PASSWORD;
      const hadSecret = (await readSecretFileText(dataDir)) !== undefined;
      const running = await startServer({
        dataDir,
        host,
        port,
        forceTls: o.tls,
        tlsFiles: o.tlsCert && o.tlsKey ? { certFile: o.tlsCert, keyFile: o.tlsKey } : undefined,
        firstAdministrator: password ? { name: o.adminUser, password } : undefined,
        loginTtlMs: ttl * 3_600_000,
        testMode: o.testMode,
        ...(inventoryIntervalMs !== undefined && { inventoryIntervalMs }),
        ...(o.timezone !== undefined && { timezone: o.timezone }),
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      }).catch(async (err: unknown) => {
        // A start that failed after making the secret (no administrator yet, say) still says where its phrase is.
        if (!hadSecret && (await readSecretFileText(dataDir).catch(() => undefined)) !== undefined) {
          process.stderr.write(
            `a new appliance secret was made: see it with \`lifeboat server recovery-phrase --data ${dataDir}\`\n`,
          );
        }
        throw err;
      });
      if (running.appliance.secretCreated && running.appliance.secrets instanceof KeyRing) {
        await announceSecret(running.appliance.secrets, dataDir, undefined);
      }
      const signalled = untilSignalled(); // before the ready line: a signal right after it stops gracefully
      if (o.testMode)
        print('TEST MODE: the clock moves on request (POST /api/v1/test/clock); never use it for real data');
      print(`lifeboat appliance: ${running.url}/api/v1 (data ${dataDir})`);
      if (running.fingerprint) print(`certificate SHA-256 fingerprint: ${running.fingerprint}`);
      await signalled;
      process.stderr.write('stopping: finishing requests in flight\n');
      await running.close();
    });

  server
    .command('init')
    .description(
      "make a new data folder's secret (recovery phrase shown once) and first administrator, or restore a secret",
    )
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .option('--admin-user <name>', 'name of the first administrator', 'admin')
    .option(
      '--recovery-phrase-file <file>',
      'write the recovery phrase to this new file (0600) instead of showing it',
    )
    .option(
      '--from-recovery-phrase-file <file>',
      'restore the secret of a lost appliance from its recovery phrase',
    )
    .option(
      '--older-keys-from <file>',
      'with --from-recovery-phrase-file: a copy of the old secret.json whose older keys the phrase opens',
    )
    .option('--kms-key <key>', 'keep the secret on disk only wrapped by this KMS key (alias or ARN)')
    .option('--kms-file-out <file>', 'with --kms-key: also write the wrapped secret file to this new file')
    .option('--from-kms-file <file>', 'restore the secret from a copy of a KMS-wrapped secret file')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as InitFlags;
      const { Appliance, defaultDataDir, initSecret, readSecretFileText, SYSTEM } = await import(
        '@lifeboat/appliance'
      );
      if (o.fromRecoveryPhraseFile && o.fromKmsFile)
        throw new UsageError('--from-recovery-phrase-file and --from-kms-file exclude each other');
      if (o.olderKeysFrom && !o.fromRecoveryPhraseFile)
        throw new UsageError('--older-keys-from goes with --from-recovery-phrase-file');
      if (o.kmsFileOut && !o.kmsKey) throw new UsageError('--kms-file-out goes with --kms-key');
      if (o.recoveryPhraseFile && o.fromRecoveryPhraseFile)
        throw new UsageError(
          '--recovery-phrase-file: the phrase is the one given with --from-recovery-phrase-file',
        );
      const dataDir = o.data ?? defaultDataDir();
      const wantsSecret = Boolean(
        o.recoveryPhraseFile || o.fromRecoveryPhraseFile || o.fromKmsFile || o.kmsKey || o.olderKeysFrom,
      );
      let secretMade = false;
      if ((await readSecretFileText(dataDir)) !== undefined) {
        if (wantsSecret) {
          throw new UsageError(
            `${dataDir} has an appliance secret already: init never replaces it (see its phrase with \`lifeboat server recovery-phrase\`, replace its key with \`lifeboat server rotate-secret\`)`,
          );
        }
        process.stderr.write(
          `${dataDir} has its appliance secret already: see its recovery phrase with \`lifeboat server recovery-phrase --data ${dataDir}\`\n`,
        );
      } else {
        const root = o.fromRecoveryPhraseFile ? await readPhraseFile(o.fromRecoveryPhraseFile) : undefined;
        const olderFrom = o.olderKeysFrom ? readTextFile(o.olderKeysFrom) : undefined;
        const fromKmsFile = o.fromKmsFile ? readTextFile(o.fromKmsFile) : undefined;
        const phraseOut = o.recoveryPhraseFile ? await newSecretFile(o.recoveryPhraseFile) : undefined;
        const kmsOut = o.kmsFileOut ? await newSecretFile(o.kmsFileOut).catch(cleanup(phraseOut)) : undefined;
        let made: Awaited<ReturnType<typeof initSecret>>;
        try {
          made = await initSecret(dataDir, {
            root,
            olderFrom,
            fromKmsFile,
            kmsKeyId: o.kmsKey,
            kms: cliKms(),
          });
        } catch (err) {
          await cleanup(phraseOut)(undefined).catch(() => {});
          await cleanup(kmsOut)(err);
          throw err;
        }
        secretMade = true;
        if (kmsOut) {
          await kmsOut.handle.writeFile(made.fileText);
          await kmsOut.handle.close();
          process.stderr.write(`the KMS-wrapped secret file is copied to ${kmsOut.path}\n`);
        }
        const how = o.kmsKey ? `, kept wrapped by KMS key ${o.kmsKey}` : '';
        if (made.restored) {
          print(
            `appliance secret restored in ${dataDir} (key ${made.ring.currentId}, ${made.ring.keys.length} key${made.ring.keys.length > 1 ? 's' : ''})${how}`,
          );
          if (phraseOut) await announceSecret(made.ring, dataDir, phraseOut);
        } else {
          print(`appliance secret made in ${dataDir} (key ${made.ring.currentId})${how}`);
          await announceSecret(made.ring, dataDir, phraseOut);
        }
      }
      const appliance = await Appliance.open({ dataDir, secretKms: cliKms() });
      try {
        if ((await appliance.users.count()) > 0) {
          if (secretMade) {
            print(`the catalog in ${dataDir} has users already: no new administrator`);
            return;
          }
          throw new UsageError(
            `the appliance in ${dataDir} has users already: manage them with \`lifeboat user\``,
          );
        }
        const password = await readPassword({
          env: 'LIFEBOAT_ADMIN_PASSWORD',
          prompt: `Password for the administrator ${o.adminUser}: `,
          confirm: true,
        });
        await appliance.users.create(SYSTEM, { name: o.adminUser, role: 'administrator', password });
        print(
          `administrator ${o.adminUser} created in ${dataDir}; start the appliance with \`lifeboat server\``,
        );
      } finally {
        await appliance.close();
      }
    });

  server
    .command('recovery-phrase')
    .description(
      "show the recovery phrase of the appliance's current secret (local access to the data folder)",
    )
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .option('--file <file>', 'write it to this new file (0600) instead of the terminal')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string; file?: string };
      const { defaultDataDir, readKeyRing, recoveryPhraseOf } = await import('@lifeboat/appliance');
      const dataDir = o.data ?? defaultDataDir();
      if (!o.file && !process.stdout.isTTY) {
        throw new UsageError(
          'the recovery phrase is shown at a terminal only: give --file F to write it to a new file',
        );
      }
      const out = o.file ? await newSecretFile(o.file) : undefined;
      let ring: KeyRing;
      try {
        ring = (await readKeyRing(dataDir, { kms: cliKms() })).ring;
      } catch (err) {
        await cleanup(out)(err);
        throw err;
      }
      const phrase = recoveryPhraseOf(ring.current.secret);
      if (out) {
        await out.handle.writeFile(`${phrase}\n`);
        await out.handle.close();
        print(`recovery phrase of key ${ring.currentId} written to ${out.path}`);
      } else {
        print(`Recovery phrase of the secret of ${dataDir} (key ${ring.currentId}):`);
        print();
        print(`    ${phrase}`);
        print();
      }
    });

  server
    .command('rotate-secret')
    .description(
      "add a new key to the appliance's secret and make it current (appliance stopped); old values stay readable",
    )
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .option(
      '--recovery-phrase-file <file>',
      'write the new recovery phrase to this new file (0600) instead of showing it',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string; recoveryPhraseFile?: string };
      const { Appliance, defaultDataDir, readSecretFileText, rotateKeyRing, SYSTEM } = await import(
        '@lifeboat/appliance'
      );
      const dataDir = o.data ?? defaultDataDir();
      if ((await readSecretFileText(dataDir)) === undefined) {
        throw new UsageError(
          `${dataDir} has no appliance secret to rotate: make it with \`lifeboat server init\``,
        );
      }
      const out = o.recoveryPhraseFile ? await newSecretFile(o.recoveryPhraseFile) : undefined;
      let ring: KeyRing;
      try {
        const appliance = await Appliance.open({ dataDir, secretKms: cliKms() });
        try {
          const rotated = await rotateKeyRing(dataDir, { kms: cliKms() });
          ring = rotated.ring;
          await appliance.audit.record(SYSTEM, {
            action: 'secret.rotate',
            target: rotated.ring.currentId,
            details: {
              previousKey: rotated.previousId,
              key: rotated.ring.currentId,
              keys: rotated.ring.keys.length,
            },
          });
        } finally {
          await appliance.close();
        }
      } catch (err) {
        await cleanup(out)(err);
        throw err;
      }
      print(
        `appliance secret of ${dataDir} rotated: key ${ring.currentId} is current, ${ring.keys.length - 1} older kept`,
      );
      await announceSecret(ring, dataDir, out);
    });

  server
    .command('reset-password')
    .description(
      "set a user's forgotten password (and enable it) with the appliance stopped: local access to DIR",
    )
    .argument('<user>', 'user name, e.g. admin')
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .option(
      '--new-password-file <file>',
      'read the new password from this file (else LIFEBOAT_NEW_PASSWORD or a prompt)',
    )
    .action(async (user: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string; newPasswordFile?: string };
      const { Appliance, defaultDataDir } = await import('@lifeboat/appliance');
      const dataDir = o.data ?? defaultDataDir();
      const appliance = await Appliance.open({ dataDir, secretKms: cliKms() });
      try {
        const password = await readPassword({
          passwordFile: o.newPasswordFile,
          env: 'LIFEBOAT_NEW_PASSWORD',
          prompt: `New password for ${user}: `,
          confirm: true,
        });
        await appliance.users.resetLocally(user, password);
        print(`password of ${user} set, user enabled, its logins ended`);
      } finally {
        await appliance.close();
      }
    });

  server
    .command('backup-catalog')
    .description('copy the catalog to FILE, consistently, while the appliance runs')
    .argument('<file>', 'new file for the copy (must not exist)')
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string; json?: boolean };
      const { backupCatalog, defaultDataDir } = await import('@lifeboat/appliance');
      const dataDir = o.data ?? defaultDataDir();
      await backupCatalog(dataDir, file);
      if (o.json) printJson({ catalog: dataDir, copy: file });
      else print(`catalog of ${dataDir} copied to ${file}`);
    });

  server
    .command('fingerprint')
    .description(
      "print the SHA-256 fingerprint of the appliance's certificate (for `lifeboat login --fingerprint`)",
    )
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string };
      const { defaultDataDir } = await import('@lifeboat/appliance');
      const { fingerprintOf } = await import('@lifeboat/api');
      const { readFile } = await import('node:fs/promises');
      const file = `${o.data ?? defaultDataDir()}/tls/cert.pem`;
      const pem = await readFile(file, 'utf8').catch(() => {
        throw new UsageError(
          `no certificate at ${file}: the appliance makes one at its first start with HTTPS`,
        );
      });
      print(fingerprintOf(pem));
    });
}

interface InitFlags {
  data?: string;
  adminUser: string;
  recoveryPhraseFile?: string;
  fromRecoveryPhraseFile?: string;
  olderKeysFrom?: string;
  kmsKey?: string;
  kmsFileOut?: string;
  fromKmsFile?: string;
}

/** KMS through the AWS SDK's standard chain, loaded only when a secret is KMS-wrapped. */
function cliKms(): SecretKms {
  return {
    async wrap(keyId, secret, context) {
      const { kmsEncryptSecret } = await import('@lifeboat/aws');
      return kmsEncryptSecret(keyId, secret, context);
    },
    async unwrap(wrapped) {
      const { kmsDecryptSecret } = await import('@lifeboat/aws');
      return kmsDecryptSecret(wrapped.keyId, wrapped.ciphertextBlob, wrapped.encryptionContext);
    },
  };
}

interface NewFile {
  path: string;
  handle: FileHandle;
}

/** A new file, 0600 from creation; refused when it exists (a phrase never overwrites anything). */
async function newSecretFile(path: string): Promise<NewFile> {
  try {
    return { path, handle: await open(path, 'wx', 0o600) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${path} exists: give a new file`);
    throw new UsageError(`cannot create ${path}: ${(err as Error).message}`);
  }
}

/** Closes and removes a new file left empty by a failure. */
function cleanup(file: NewFile | undefined): (err: unknown) => Promise<never> {
  return async (err) => {
    if (file) {
      await file.handle.close().catch(() => {});
      await unlink(file.path).catch(() => {});
    }
    throw err;
  };
}

function readTextFile(path: string): { text: string; where: string } {
  try {
    return { text: readFileSync(path, 'utf8'), where: path };
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

async function readPhraseFile(path: string): Promise<Buffer> {
  const { parseRecoveryKey } = await import('@lifeboat/repository');
  const line =
    readTextFile(path)
      .text.split(/\r?\n/)
      .find((l) => l.trim()) ?? '';
  try {
    return parseRecoveryKey(line);
  } catch (err) {
    throw new UsageError(`${path}: ${(err as Error).message}`);
  }
}

/**
 * The recovery phrase of a secret just made: written to `out`, else shown once on stderr when it is a terminal,
 * else only where to see it (never to a log or a pipe).
 */
async function announceSecret(ring: KeyRing, dataDir: string, out: NewFile | undefined): Promise<void> {
  const { recoveryPhraseOf } = await import('@lifeboat/appliance');
  const phrase = recoveryPhraseOf(ring.current.secret);
  if (out) {
    await out.handle.writeFile(`${phrase}
`);
    await out.handle.close();
    process.stderr.write(`the recovery phrase of key ${ring.currentId} is written to ${out.path}
`);
  } else if (process.stderr.isTTY) {
    process.stderr.write(
      `\nRecovery phrase of this appliance's secret (key ${ring.currentId}):\n\n    ${phrase}\n\n` +
        'WRITE THIS DOWN and keep it away from this machine. With it and a copy of the catalog a new appliance\n' +
        'reads everything this one sealed (`lifeboat server init --from-recovery-phrase-file F`). It is not shown\n' +
        `again unless asked for: \`lifeboat server recovery-phrase --data ${dataDir}\`.\n\n`,
    );
  } else {
    process.stderr.write(
      `a new appliance secret was made: see it with \`lifeboat server recovery-phrase --data ${dataDir}\`\n`,
    );
  }
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`--listen ${value} is not HOST:PORT (e.g. ${DEFAULT_LISTEN}, [::1]:7420)`);
  return { host: (m[1] ?? m[2])!, port };
}

function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
