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
    .action(async (o: ServerFlags) => {
      const { startServer } = await import('@lifeboat/api');
      const { defaultDataDir } = await import('@lifeboat/appliance');
      const { host, port } = parseListen(o.listen);
      if (Boolean(o.tlsCert) !== Boolean(o.tlsKey))
        throw new UsageError('--tls-cert and --tls-key go together');
      const ttl = Number(o.loginTtl);
      if (!(ttl > 0 && ttl <= 24 * 30))
        throw new UsageError('--login-ttl takes hours, from more than 0 to 720');
      const dataDir = o.data ?? defaultDataDir();
      const password = process.env.LIFEBOAT_ADMIN_PASSWORD;
      const running = await startServer({
        dataDir,
        host,
        port,
        forceTls: o.tls,
        tlsFiles: o.tlsCert && o.tlsKey ? { certFile: o.tlsCert, keyFile: o.tlsKey } : undefined,
        firstAdministrator: password ? { name: o.adminUser, password } : undefined,
        loginTtlMs: ttl * 3_600_000,
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      print(`lifeboat appliance: ${running.url}/api/v1 (data ${dataDir})`);
      if (running.fingerprint) print(`certificate SHA-256 fingerprint: ${running.fingerprint}`);
      await untilSignalled();
      process.stderr.write('stopping: finishing requests in flight\n');
      await running.close();
    });

  server
    .command('init')
    .description('create the first administrator of a new data folder (password asked at a terminal)')
    .option('--data <dir>', 'data folder (default: $XDG_DATA_HOME/lifeboat)')
    .option('--admin-user <name>', 'name of the first administrator', 'admin')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as { data?: string; adminUser: string };
      const { Appliance, defaultDataDir, SYSTEM } = await import('@lifeboat/appliance');
      const dataDir = o.data ?? defaultDataDir();
      const appliance = await Appliance.open({ dataDir });
      try {
        if ((await appliance.users.count()) > 0) {
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
      const appliance = await Appliance.open({ dataDir });
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
