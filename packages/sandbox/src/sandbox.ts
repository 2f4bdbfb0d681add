import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Account, RegionInfo } from './core/model.js';
import {
  type AwsRequest,
  DEFAULT_TIMING,
  type SandboxContext,
  type Service,
  type Timing,
  ZERO_TIMING,
} from './core/service.js';
import { StateStore } from './core/state.js';
import { LayeredBlockEngine } from './ebs/engine.js';
import { EbsQuotas } from './ebs/quotas.js';
import { createEbsService } from './ebs/service.js';
import { expireDirectSnapshots } from './ebs/snapshots.js';
import { createEc2Service } from './ec2/index.js';
import { authorizeCall } from './iam/authorize.js';
import { credentialLookup } from './iam/credentials.js';
import { createIamService } from './iam/service.js';
import { MasterKey } from './kms/crypto.js';
import { createKmsService } from './kms/service.js';
import { createS3Service } from './s3/index.js';
import { TEST_ACCOUNTS, TEST_REGIONS } from './server/accounts.js';
import { createAdminHandler } from './server/admin.js';
import { AdminOps } from './server/admin-ops.js';
import { Context } from './server/context.js';
import { Counters } from './server/counters.js';
import { Faults } from './server/faults.js';
import { createListener } from './server/http.js';
import { keepFreedMemory } from './server/malloc.js';
import { SigV4Verifier } from './server/sigv4.js';
import { createStsService } from './sts/service.js';

export interface SandboxOptions {
  /** Where state and block content live; a temporary folder (removed at close) when absent. */
  dataDir?: string;
  /** 0 or absent: any free port. */
  port?: number;
  host?: '127.0.0.1';
  /** Overrides of the delays (seconds); `fast` starts from all-zero delays instead of AWS-like ones. */
  timing?: Partial<Timing>;
  fast?: boolean;
  /** The admin API's bearer token; by default one is made and kept in the data folder. */
  adminToken?: string;
  seed?: 'demo';
  /**
   * Block data files read and written with O_DIRECT (the default; see ebs/direct.ts), or through the page cache
   * when false, for A/B measurement. Absent: on unless the environment says LIFEBOAT_SANDBOX_DIRECT_IO=0.
   */
  directIo?: boolean;
}

/** A running sandbox, with the admin operations callable in-process (the same as the /_sandbox/ API). */
export interface RunningSandbox
  extends Pick<
    AdminOps,
    | 'createVolume'
    | 'importVolume'
    | 'writeVolume'
    | 'readVolume'
    | 'snapshotVolume'
    | 'counters'
    | 'resetCounters'
    | 'quotas'
    | 'setQuotas'
    | 'consistency'
    | 'setConsistency'
    | 'faults'
    | 'addFault'
    | 'removeFault'
    | 'clearFaults'
    | 'advanceClock'
    | 'setPermissions'
    | 'permissions'
  > {
  endpoint: string;
  port: number;
  dataDir: string;
  accounts: readonly Account[];
  regions: readonly RegionInfo[];
  adminToken: string;
  ctx: SandboxContext;
  /** What `seed: 'demo'` created (accounts, instances, volumes), when it was asked for. */
  demo?: DemoEnvironment;
  close(): Promise<void>;
}

type DemoEnvironment = Awaited<ReturnType<typeof import('./seed/index.js')['seedDemo']>>;

/** How often EBS direct snapshots past their Timeout are marked as errors (they are also checked on access). */
const EXPIRY_SWEEP_MS = 5000;

export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  keepFreedMemory();
  const temporary = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'lifeboat-sandbox-'));
  mkdirSync(dataDir, { recursive: true });
  const unlock = lock(dataDir);
  const state = new StateStore(dataDir);
  const directIo = opts.directIo ?? process.env.LIFEBOAT_SANDBOX_DIRECT_IO !== '0';
  const engine = new LayeredBlockEngine(dataDir, state, { directIo });
  const timing: Timing = { ...(opts.fast ? ZERO_TIMING : DEFAULT_TIMING), ...opts.timing };
  const counters = new Counters();
  const faults = new Faults();
  const quotas = new EbsQuotas();
  const ctx = new Context(state, engine, TEST_ACCOUNTS, TEST_REGIONS, timing, counters);
  const services = new Map<string, Service>();
  for (const s of [createEc2Service(), createEbsService(engine, quotas, ctx)]) services.set(s.name, s);
  services.set('s3', createS3Service(ctx, dataDir));
  const master = new MasterKey(dataDir);
  for (const s of [createKmsService(master), createStsService(), createIamService()]) services.set(s.name, s);
  const adminToken = opts.adminToken ?? persistedToken(state);
  const ops = new AdminOps(ctx, engine, counters, faults, quotas);
  let endpoint = '';
  const admin = createAdminHandler(ops, {
    endpoint: () => endpoint,
    accounts: TEST_ACCOUNTS,
    regions: TEST_REGIONS,
    token: adminToken,
  });
  // Root keys, IAM users' keys and STS sessions; sessions expire on the sandbox clock (advanceClock).
  const verifier = new SigV4Verifier(credentialLookup(ctx), () => ctx.now());
  const authorize = (req: AwsRequest, operation: string) =>
    authorizeCall(ctx, req.principal, req.service, operation);
  const server = createServer(
    {
      // Idle keep-alive connections are never closed here; clients close them, and close() does. A server that
      // closes them races its clients: the AWS SDK's agent (keepAlive, no `timeout`) reuses an idle socket however
      // old it is (Node's Agent only shortens a timeout of its own from the `Keep-Alive: timeout=N` hint), so a
      // request written as the server closes the socket fails with ECONNRESET "socket hang up" (issue 14; the
      // sandbox closed after 65 s + Node's 1 s margin, test/server/keep-alive.test.ts).
      keepAliveTimeout: 0,
      // Nor is a request cut for being slow (Node's default: 408 and a closed socket at 5 minutes); a streamed S3
      // upload on a loaded CI machine may take longer. Headers must still arrive within 60 s.
      requestTimeout: 0,
      headersTimeout: 60_000,
    },
    createListener({ ctx, services, verifier, faults, counters, admin, authorize }),
  );
  let port: number;
  try {
    port = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  } catch (e) {
    engine.close();
    unlock();
    throw e;
  }
  endpoint = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  const sweeper = setInterval(() => expireDirectSnapshots(ctx), EXPIRY_SWEEP_MS);
  sweeper.unref();
  const sandbox: RunningSandbox = {
    endpoint,
    port,
    dataDir,
    accounts: TEST_ACCOUNTS,
    regions: TEST_REGIONS,
    adminToken,
    ctx,
    createVolume: (v) => ops.createVolume(v),
    importVolume: (v) => ops.importVolume(v),
    writeVolume: (id, offset, data) => ops.writeVolume(id, offset, data),
    readVolume: (id, offset, length) => ops.readVolume(id, offset, length),
    snapshotVolume: (id, description) => ops.snapshotVolume(id, description),
    counters: () => ops.counters(),
    resetCounters: () => ops.resetCounters(),
    quotas: () => ops.quotas(),
    setQuotas: (q) => ops.setQuotas(q),
    consistency: () => ops.consistency(),
    setConsistency: (c) => ops.setConsistency(c),
    faults: () => ops.faults(),
    addFault: (f) => ops.addFault(f),
    removeFault: (id) => ops.removeFault(id),
    clearFaults: () => ops.clearFaults(),
    advanceClock: (ms) => ops.advanceClock(ms),
    setPermissions: (arn, actions) => ops.setPermissions(arn, actions),
    permissions: () => ops.permissions(),
    async close() {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      engine.close();
      unlock();
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.seed === 'demo') {
    // Loaded on demand: the seeder (mkfs, file trees) is not needed by most sandboxes.
    const { seedDemo } = await import('./seed/index.js');
    try {
      sandbox.demo = await seedDemo(sandbox);
    } catch (e) {
      await sandbox.close();
      throw e;
    }
  }
  return sandbox;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function persistedToken(state: StateStore): string {
  const meta = state.table<{ value: string }>('sandbox.meta');
  let row = meta.get('adminToken');
  if (!row) {
    row = { value: randomBytes(18).toString('base64url') };
    meta.put('adminToken', row);
  }
  return row.value;
}

/**
 * One sandbox per data folder: a second one would interleave journal lines. The lock names our pid; a lock left
 * by a process that no longer runs (kill -9) is taken over.
 */
const openHere = new Set<string>();

function lock(dataDir: string): () => void {
  const file = join(dataDir, 'sandbox.pid');
  if (openHere.has(file)) throw new Error(`${dataDir} is in use by another sandbox in this process`);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid && pid !== process.pid && alive(pid)) {
      throw new Error(`${dataDir} is in use by the sandbox in process ${pid}`);
    }
  }
  writeFileSync(file, String(process.pid));
  openHere.add(file);
  return () => {
    openHere.delete(file);
    rmSync(file, { force: true });
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
