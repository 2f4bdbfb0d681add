import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Catalog, isCatalogError, openSqliteCatalog } from '@lifeboat/catalog';
import { AccountService, type AccountsAws } from './accounts/service.js';
import { AuditLog, SYSTEM } from './audit.js';
import { AuthService } from './auth.js';
import { type Clock, systemClock, TestClock } from './clock.js';
import { ApplianceError } from './errors.js';
import { EventHub } from './events.js';
import { IdempotencyService } from './idempotency.js';
import { DEFAULT_INVENTORY_INTERVAL_MS, InventoryService } from './inventory/service.js';
import { partialSessionState } from './jobs/engine.js';
import { JobEngine, type JobLimits, type TaskKind, TEST_TASK_KINDS } from './jobs/index.js';
import { DataDirLock } from './lock.js';
import { PasswordHasher } from './passwords.js';
import { regionFailedKind, retentionKind } from './policies/kinds.js';
import { PolicyScheduler } from './policies/scheduler.js';
import { PolicyService } from './policies/service.js';
import { POLICY_RUN_SESSION } from './policies/types.js';
import { loadOrCreateKeyRing, type SecretBox, type SecretKms } from './secret.js';
import { deleteTaskKind } from './snapshots/delete-task.js';
import { SnapshotEnv, type SnapshotEnvOptions, type SnapshotsAwsFactory } from './snapshots/env.js';
import { snapshotTaskKind } from './snapshots/instance-task.js';
import { janitorTaskKind } from './snapshots/janitor.js';
import { PointService } from './snapshots/points.js';
import { rescanTaskKind } from './snapshots/rescan.js';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleLimits } from './throttle.js';
import { UserService } from './users.js';

export interface ApplianceOptions {
  dataDir: string;
  clock?: Clock;
  /** How long a login lasts (default 12 hours). */
  loginTtlMs?: number;
  throttle?: ThrottleLimits;
  /** `lifeboat server --test-mode`: a TestClock that POST /test/clock moves, and the test-only routes. */
  testMode?: boolean;
  /** Test mode only: register the TEST-ONLY task kinds (default: LIFEBOAT_TEST_TASK_KINDS=1). */
  testTaskKinds?: boolean;
  /** Task kinds beside the appliance's own (tests). */
  taskKinds?: TaskKind[];
  /** Running tasks per (account, region) and overall (defaults 4 and 8). */
  jobLimits?: Partial<JobLimits>;
  /** KMS for a KMS-wrapped secret (default: the one given to setSecretKms). */
  secretKms?: SecretKms;
  /** The AWS side of accounts and inventory (default: AwsAccounts, SDK clients configured from the environment). */
  aws?: AccountsAws;
  /**
   * How often a refresh session reads every account (`lifeboat server --inventory-interval`; else the
   * LIFEBOAT_INVENTORY_INTERVAL minutes, else 15; 0: only on demand). Scheduled by startSchedules() once the API
   * listens, not by open().
   */
  inventoryIntervalMs?: number;
  /** The EC2/KMS adapter of snapshots per account × region (default: Ec2Snapshots of @lifeboat/aws). */
  snapshotsAws?: SnapshotsAwsFactory;
  /** Copy queue and polling of snapshot sessions. */
  snapshots?: SnapshotEnvOptions;
  /** The time zone of schedules that name none (default UTC). */
  timezone?: string;
}

/** `$XDG_DATA_HOME/lifeboat`, else `~/.local/share/lifeboat`. */
export function defaultDataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'lifeboat');
}

export const catalogFile = (dataDir: string): string => join(dataDir, 'catalog.db');

/**
 * The control plane's services over one data folder: locked for this process, catalog migrated, services wired.
 * HTTP lives in @lifeboat/api; this knows nothing of it.
 */
export class Appliance {
  readonly events: EventHub;
  readonly audit: AuditLog;
  readonly users: UserService;
  readonly auth: AuthService;
  readonly idempotency: IdempotencyService;
  /** AWS accounts: a role to assume with the appliance's ExternalId, or sealed access keys. */
  readonly accounts: AccountService;
  /** Instances and volumes per account and region, refreshed on a schedule and on demand. */
  readonly inventory: InventoryService;
  private readonly inventoryIntervalMs: number;
  /** Backup policies: documents, schedules, runs. */
  readonly policies: PolicyService;
  /** Restore points: the timeline, holds, rescans and the janitor. */
  readonly points: PointService;
  private readonly snapshotEnv: SnapshotEnv;
  private readonly scheduler: PolicyScheduler;
  /** The job engine: sessions of tasks. Started by the server (jobs.start()), not by local chores. */
  readonly jobs: JobEngine;
  /** Started with --test-mode: the clock moves on request and the test-only routes exist. */
  readonly testMode: boolean;
  /** Seals stored credentials; survives the appliance through its recovery phrase. */
  readonly secrets: SecretBox;
  /** The secret was made by this open (first start): its recovery phrase has not been shown yet. */
  secretCreated = false;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    readonly dataDir: string,
    readonly catalog: Catalog,
    private readonly lock: DataDirLock,
    readonly clock: Clock,
    secrets: SecretBox,
    options: ApplianceOptions,
  ) {
    this.secrets = secrets;
    const hasher = new PasswordHasher();
    this.events = new EventHub(catalog, clock);
    this.audit = new AuditLog(catalog, this.events, clock);
    this.users = new UserService(catalog, this.audit, hasher, clock);
    this.auth = new AuthService(
      catalog,
      hasher,
      new LoginThrottle(options.throttle ?? DEFAULT_THROTTLE),
      this.audit,
      clock,
      options.loginTtlMs ?? 12 * 3_600_000,
    );
    this.idempotency = new IdempotencyService(catalog, clock);
    const aws = options.aws!;
    const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.jobs = new JobEngine(catalog, this.events, this.audit, clock, options.jobLimits);
    this.accounts = new AccountService(catalog, this.audit, secrets, aws, clock, region, (a) => {
      // A new account's first inventory: a session of its regions; their outcome is recorded per region.
      void this.inventory
        .start(SYSTEM, { account: a.name }, `first inventory of account ${a.name}`)
        .catch(() => {});
    });
    this.inventory = new InventoryService(
      catalog,
      this.accounts,
      aws,
      this.audit,
      this.events,
      clock,
      this.jobs,
    );
    this.jobs.register(this.inventory.kind);
    this.snapshotEnv = new SnapshotEnv(
      catalog,
      secrets,
      clock,
      this.accounts,
      this.audit,
      options.snapshotsAws ?? unavailableSnapshots,
      // A test sandbox completes snapshots at once: look sooner than AWS's minutes would deserve.
      options.snapshots ?? (options.testMode ? { pollMs: 100, maxPollMs: 2_000 } : {}),
    );
    this.policies = new PolicyService(
      this.snapshotEnv,
      this.audit,
      this.jobs,
      clock,
      options.timezone ?? 'UTC',
    );
    this.points = new PointService(this.snapshotEnv, this.audit, this.jobs);
    this.scheduler = new PolicyScheduler(this.policies, this.audit, clock, undefined, () =>
      this.points.janitor(SYSTEM, {}),
    );
    this.jobs.register(
      snapshotTaskKind(this.snapshotEnv),
      retentionKind(this.snapshotEnv),
      regionFailedKind,
      deleteTaskKind(this.snapshotEnv),
      rescanTaskKind(this.snapshotEnv),
      janitorTaskKind(this.snapshotEnv),
    );
    this.jobs.setSessionOutcome(POLICY_RUN_SESSION, partialSessionState);
    const minutes = Number(process.env.LIFEBOAT_INVENTORY_INTERVAL);
    this.inventoryIntervalMs =
      options.inventoryIntervalMs ??
      (process.env.LIFEBOAT_INVENTORY_INTERVAL && minutes >= 0
        ? minutes * 60_000
        : DEFAULT_INVENTORY_INTERVAL_MS);
    this.testMode = options.testMode ?? false;
  }

  static async open(options: ApplianceOptions): Promise<Appliance> {
    const dir = options.dataDir;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ApplianceError(
        'DATA_DIR_UNUSABLE',
        `cannot use data folder ${dir}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const lock = await DataDirLock.acquire(join(dir, 'appliance.lock'));
    try {
      const { ring, created } = await loadOrCreateKeyRing(dir, { kms: options.secretKms });
      const catalog = await openCatalog(catalogFile(dir), false);
      // Loaded here, not at import: the AWS SDK is needed only by an opened appliance.
      const awsModule = await import('@lifeboat/aws');
      const aws = options.aws ?? new awsModule.AwsAccounts();
      let snapshotsAws = options.snapshotsAws;
      if (!snapshotsAws && aws instanceof awsModule.AwsAccounts) {
        snapshotsAws = (account, region, onCall) =>
          new awsModule.Ec2Snapshots(aws, appliance.accounts.access(account), region, { onCall });
      }
      const appliance: Appliance = new Appliance(dir, catalog, lock, clockOf(options), ring, {
        ...options,
        aws,
        ...(snapshotsAws && { snapshotsAws }),
      });
      appliance.secretCreated = created;
      appliance.jobs.register(...(options.taskKinds ?? []));
      if (options.testMode && (options.testTaskKinds ?? process.env.LIFEBOAT_TEST_TASK_KINDS === '1')) {
        appliance.jobs.register(...TEST_TASK_KINDS);
      }
      appliance.sweeper = setInterval(() => void appliance.auth.sweep().catch(() => {}), 3_600_000).unref();
      return appliance;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Creates the first administrator when there is no user yet; false when there are users already. */
  ensureAdministrator(name: string, password: string): Promise<boolean> {
    return this.users.bootstrap(SYSTEM, name, password);
  }

  /**
   * The inventory's schedule (a refresh session every 15 minutes by default); the API starts it once it listens.
   * `log` gets its lines (a skipped tick).
   */
  startSchedules(log?: (line: string) => void): void {
    this.inventory.schedule(this.inventoryIntervalMs, log);
    this.scheduler.start();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.inventory.stop();
    this.scheduler.stop();
    await this.jobs.close();
    this.snapshotEnv.close();
    await this.catalog.close();
    await this.lock.release();
  }
}

/** Without AWS adapters (unit tests with a fake AccountsAws): snapshot tasks fail saying so. */
const unavailableSnapshots: SnapshotsAwsFactory = () => {
  throw new ApplianceError('CATALOG_UNUSABLE', 'this appliance was opened without EC2 snapshot access');
};

/** A test clock only in test mode (never in production), unless the caller brings its own. */
function clockOf(options: ApplianceOptions): Clock {
  return options.clock ?? (options.testMode ? new TestClock() : systemClock);
}

/** An online copy of a data folder's catalog, safe while the appliance runs (no lock taken). */
export async function backupCatalog(dataDir: string, file: string): Promise<void> {
  const catalog = await openCatalog(catalogFile(dataDir), true);
  try {
    await catalog.backupTo(file).catch(wrapCatalogError);
  } finally {
    await catalog.close();
  }
}

async function openCatalog(file: string, readonly: boolean): Promise<Catalog> {
  return openSqliteCatalog(file, { readonly, migrate: !readonly }).catch(wrapCatalogError);
}

function wrapCatalogError(err: unknown): never {
  // A damaged catalog is damaged data (restore a backup-catalog copy); too new or unreadable is not.
  if (isCatalogError(err)) {
    const code = err.code === 'CATALOG_CORRUPT' ? 'CATALOG' : 'CATALOG_UNUSABLE';
    throw new ApplianceError(code, err.message, { cause: err });
  }
  throw err;
}
