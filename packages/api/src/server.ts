import { Appliance, ApplianceError } from '@lifeboat/appliance';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './app.js';
import { loadTls } from './tls.js';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Serve HTTPS on loopback too (anywhere else it is always HTTPS). */
  forceTls?: boolean;
  tlsFiles?: { certFile: string; keyFile: string };
  /** The first administrator's name and password, for an empty catalog (from LIFEBOAT_ADMIN_PASSWORD). */
  firstAdministrator?: { name: string; password: string };
  loginTtlMs?: number;
  /** `--test-mode`: a clock that tests move (POST /test/clock) and the test-only routes. Never in production. */
  testMode?: boolean;
  /** How often a refresh session reads the inventory, in ms (0: only on demand; default LIFEBOAT_INVENTORY_INTERVAL, else 15 minutes). */
  inventoryIntervalMs?: number;
  /** The time zone of policy schedules that name none (default UTC). */
  timezone?: string;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  /** SHA-256 of the certificate, when serving HTTPS. */
  fingerprint: string | null;
  appliance: Appliance;
  api: FastifyInstance;
  /** Stops accepting, ends event streams, waits for requests in flight, closes the catalog, frees the folder. */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Opens the data folder and serves the API; the caller owns signals and the process. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const appliance = await Appliance.open({
    dataDir: options.dataDir,
    loginTtlMs: options.loginTtlMs,
    testMode: options.testMode,
    ...(options.inventoryIntervalMs !== undefined && { inventoryIntervalMs: options.inventoryIntervalMs }),
    ...(options.timezone !== undefined && { timezone: options.timezone }),
  });
  try {
    if ((await appliance.users.count()) === 0) {
      if (!options.firstAdministrator) {
        throw new ApplianceError(
          'NO_ADMINISTRATOR',
          `the appliance in ${options.dataDir} has no administrator yet: run \`lifeboat server init --data ${options.dataDir}\` at a terminal, or set LIFEBOAT_ADMIN_PASSWORD for this first start`,
        );
      }
      await appliance.ensureAdministrator(
        options.firstAdministrator.name,
        options.firstAdministrator.password,
      );
      log(`created the first administrator ${options.firstAdministrator.name}`);
    }
    // Sessions left by the last run: tasks resumed or failed `interrupted`, queued ones started.
    await appliance.jobs.start();
    const useTls = options.forceTls || options.tlsFiles !== undefined || !isLoopback(options.host);
    const tls = useTls ? await loadTls(options.dataDir, options.host, options.tlsFiles) : undefined;
    const api = await buildApi({ appliance, tls, log });
    await api.listen({ host: options.host, port: options.port }).catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, options.host, options.port);
    });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    let closing: Promise<void> | undefined;
    return {
      url,
      fingerprint: tls?.fingerprint ?? null,
      appliance,
      api,
      close: () => {
        closing ??= api.close().finally(() => appliance.close());
        return closing;
      },
    };
  } catch (err) {
    await appliance.close();
    throw err;
  }
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (err.code === 'EADDRINUSE') {
    return new ApplianceError(
      'DATA_DIR_UNUSABLE',
      `${where} is in use: stop what listens there or give another --listen`,
      { cause: err },
    );
  }
  if (err.code === 'EACCES') {
    return new ApplianceError(
      'DATA_DIR_UNUSABLE',
      `not allowed to listen on ${where}: use a port above 1023`,
      { cause: err },
    );
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
    return new ApplianceError(
      'DATA_DIR_UNUSABLE',
      `${host} is not an address of this machine: check --listen`,
      { cause: err },
    );
  }
  return err;
}
