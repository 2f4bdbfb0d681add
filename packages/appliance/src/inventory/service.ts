import type { AccountRecord, Catalog, InstanceRecord, SeenInstance } from '@lifeboat/catalog';
import { instanceKey } from '@lifeboat/catalog';
import type { AccountService, AccountsAws } from '../accounts/service.js';
import { type Actor, type AuditLog, SYSTEM } from '../audit.js';
import type { Clock } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { EventHub } from '../events.js';
import type { JobEngine, SessionWithTasks } from '../jobs/engine.js';
import { type TaskContext, TaskError, type TaskKind, type TaskOutcome } from '../jobs/types.js';

/** Refreshes run every 15 minutes unless the server says otherwise. */
export const DEFAULT_INVENTORY_INTERVAL_MS = 15 * 60_000;
/** The session kind of a refresh, and the task kind of one account × region in it. */
export const INVENTORY_SESSION = 'inventory';
export const INVENTORY_TASK = 'inventory.region';

/** A task's input: the account by id (its name for the reader), and the region. */
export interface RegionTaskInput {
  accountId: string;
  account: string;
  region: string;
}

export interface RefreshScope {
  /** An account name; all accounts when absent. */
  account?: string;
  /** One region of the account(s); every region they scan when absent. */
  region?: string;
}

export interface RegionRefresh {
  account: string;
  region: string;
  ok: boolean;
  instances: number;
  /** Instances not seen this time (kept as `gone`). */
  gone: number;
  error: string | null;
}

/** A refresh session once it ended, per account × region (from its tasks). */
export interface RefreshReport {
  sessionId: string;
  state: string;
  startedAt: string;
  endedAt: string;
  regions: RegionRefresh[];
}

/** An inventory row as the API shows it: with its account's name. */
export interface Instance extends Omit<InstanceRecord, 'accountId'> {
  account: string;
  awsAccountId: string;
}

export interface InstanceFilter {
  account?: string;
  region?: string;
  state?: string;
  tags?: Record<string, string>;
}

/**
 * Decides whether a gone instance stays listed: while restore points of it exist it must (they are restored from
 * its record). There are no restore points yet, so every gone instance is kept; the restore-point catalog will
 * answer here.
 */
export type RetainGone = (instance: InstanceRecord) => Promise<boolean>;
export const KEEP_ALL_GONE: RetainGone = async () => true;

/**
 * The inventory: per account × region, DescribeInstances + DescribeVolumes with the account's credentials,
 * reconciled into the catalog. A refresh is a job-engine session `inventory` with one task `inventory.region` per
 * account × region: AWS throttling and 5xx are retried by the engine (backoff and jitter), the engine's limits
 * apply, and one region failing never stops the others: its task fails with AWS's error code, and its error is
 * recorded for that account × region (shown by `instance list` and `account show`). Reconciling is idempotent, so a
 * task left running by a restart simply runs again.
 */
export class InventoryService {
  private timer: NodeJS.Timeout | undefined;
  retainGone: RetainGone = KEEP_ALL_GONE;

  /** The task kind the Appliance registers. */
  readonly kind: TaskKind = {
    kind: INVENTORY_TASK,
    run: (ctx) => this.runRegion(ctx),
    resume: (ctx) => this.runRegion(ctx),
    canResume: () => true,
  };

  constructor(
    private readonly catalog: Catalog,
    private readonly accounts: AccountService,
    private readonly aws: AccountsAws,
    private readonly audit: AuditLog,
    private readonly events: EventHub,
    private readonly clock: Clock,
    private readonly jobs: JobEngine,
  ) {}

  /**
   * Starts a refresh session of the scope (every account and region by default): one task per account × region.
   * Recorded in the audit log as the actor's (SYSTEM: the schedule, or a new account's first read).
   */
  async start(actor: Actor, scope: RefreshScope = {}, name?: string): Promise<SessionWithTasks> {
    const accounts: AccountRecord[] = [];
    if (scope.account !== undefined) {
      const a = await this.catalog.accounts.get(scope.account);
      if (!a) throw new ApplianceError('NOT_FOUND', `no account named ${scope.account}`);
      accounts.push(a);
    } else {
      for (let after: string | undefined; ; ) {
        const page = await this.catalog.accounts.list({ limit: 500, ...(after !== undefined && { after }) });
        accounts.push(...page);
        if (page.length < 500) break;
        after = page[page.length - 1]!.name;
      }
    }
    const tasks = accounts.flatMap((a) =>
      a.regions
        .filter((r) => scope.region === undefined || r === scope.region)
        .map((region) => ({
          kind: INVENTORY_TASK,
          resource: `${a.name}/${region}`,
          account: a.name,
          region,
          input: { accountId: a.id, account: a.name, region } satisfies RegionTaskInput,
        })),
    );
    const what = [scope.account && `account ${scope.account}`, scope.region && `region ${scope.region}`]
      .filter(Boolean)
      .join(', ');
    const session = await this.jobs.startSession(actor, {
      kind: INVENTORY_SESSION,
      name: name ?? (what ? `inventory refresh (${what})` : 'inventory refresh'),
      tasks,
    });
    await this.audit
      .note(actor, {
        action: 'inventory.refresh',
        target: scope.account ? `account/${scope.account}` : null,
        details: { ...scope, session: session.id, tasks: tasks.length },
      })
      .catch(() => {});
    void this.jobs
      .whenEnded(session.id)
      .then(() => this.report(session.id))
      .then((report) =>
        this.events.publish('inventory.refreshed', {
          sessionId: report.sessionId,
          state: report.state,
          startedAt: report.startedAt,
          endedAt: report.endedAt,
          regions: report.regions.map(({ account, region, ok, instances, gone }) => ({
            account,
            region,
            ok,
            instances,
            gone,
          })),
        }),
      )
      .catch(() => {});
    return session;
  }

  /** Starts a refresh and waits for its end: its report. */
  async refresh(scope: RefreshScope = {}, actor: Actor = SYSTEM): Promise<RefreshReport> {
    const session = await this.start(actor, scope);
    await this.jobs.whenEnded(session.id);
    return this.report(session.id);
  }

  /** What a refresh session gave per account × region (from its tasks), sorted by account and region. */
  async report(sessionId: string): Promise<RefreshReport> {
    const s = await this.jobs.get(sessionId);
    const regions = s.tasks
      .filter((t) => t.kind === INVENTORY_TASK)
      .map((t): RegionRefresh => {
        const input = t.input as RegionTaskInput;
        const result = (t.result ?? {}) as { instances?: number; gone?: number };
        const ok = t.state === 'succeeded' || t.state === 'warning';
        return {
          account: input.account,
          region: input.region,
          ok,
          instances: ok ? (result.instances ?? 0) : 0,
          gone: ok ? (result.gone ?? 0) : 0,
          error: ok ? null : (t.error?.message ?? t.state),
        };
      });
    regions.sort((x, y) => x.account.localeCompare(y.account) || x.region.localeCompare(y.region));
    return {
      sessionId: s.id,
      state: s.state,
      startedAt: s.startedAt ?? s.createdAt,
      endedAt: s.endedAt ?? this.now(),
      regions,
    };
  }

  /**
   * Starts a refresh session every `intervalMs` (0: never) until stop(); a tick while an inventory session is still
   * queued or running is skipped, with a line in `log`.
   */
  schedule(intervalMs: number, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
    this.stop();
    if (intervalMs > 0) {
      this.timer = setInterval(() => void this.tick(log).catch(() => {}), intervalMs);
      this.timer.unref();
    }
  }

  private async tick(log: (line: string) => void): Promise<void> {
    for (const state of ['running', 'queued'] as const) {
      const [busy] = await this.jobs.list({ kind: INVENTORY_SESSION, state, limit: 1 });
      if (busy) {
        log(`inventory: scheduled refresh skipped: session ${busy.id} (${busy.name}) is still ${state}`);
        return;
      }
    }
    try {
      const s = await this.start(SYSTEM, {}, 'scheduled inventory refresh');
      log(`inventory: scheduled refresh started: session ${s.id} (${s.tasks.length} account × region tasks)`);
    } catch (err) {
      log(`inventory: scheduled refresh not started: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Stops the schedule (sessions in progress belong to the job engine). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A page of instances, each with its list key (`after` of the next page). */
  async list(
    limit: number,
    after: string | undefined,
    filter: InstanceFilter,
  ): Promise<Array<{ key: string; instance: Instance }>> {
    let accountId: string | undefined;
    if (filter.account !== undefined) {
      const a = await this.catalog.accounts.get(filter.account);
      if (!a) return [];
      accountId = a.id;
    }
    const rows = await this.catalog.inventory.list({
      limit,
      ...(after !== undefined && { after }),
      ...(accountId !== undefined && { accountId }),
      ...(filter.region !== undefined && { region: filter.region }),
      ...(filter.state !== undefined && { state: filter.state }),
      ...(filter.tags !== undefined && { tags: filter.tags }),
    });
    const names = new Map<string, AccountRecord>();
    for (const id of new Set(rows.map((r) => r.accountId))) {
      const a = await this.catalog.accounts.getById(id);
      if (a) names.set(id, a);
    }
    return rows.map(({ accountId: id, ...rest }) => ({
      key: instanceKey(id, rest.region, rest.instanceId),
      instance: {
        account: names.get(id)?.name ?? id,
        awsAccountId: names.get(id)?.awsAccountId ?? '',
        ...rest,
      },
    }));
  }

  /**
   * One account × region (the `inventory.region` task): EC2 read with the engine's retries, reconciled into the
   * catalog, the region's status recorded either way. Fails with AWS's error code when AWS refuses.
   */
  private async runRegion(ctx: TaskContext): Promise<TaskOutcome> {
    const input = ctx.task.input as RegionTaskInput;
    const { region } = input;
    const a = await this.catalog.accounts.getById(input.accountId);
    if (!a) throw new TaskError('NOT_FOUND', `account ${input.account} was removed`);
    const attemptedAt = this.now();
    ctx.progress(0, `reading EC2 in ${region}`);
    let calls = 0;
    let found: Awaited<ReturnType<AccountsAws['instances']>>;
    try {
      found = await ctx.withRetries((attempt) => {
        calls = attempt;
        // The engine retries (backoff and jitter on its clock): the SDK must not retry under it.
        return this.aws.instances(this.accounts.access(a), region, { maxAttempts: 1 });
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const error = err instanceof Error ? err.message : String(err);
      const previous = (await this.catalog.inventory.regionStatus(a.id).catch(() => [])).find(
        (s) => s.region === region,
      );
      await this.catalog.inventory
        .setRegionStatus({
          accountId: a.id,
          region,
          attemptedAt,
          refreshedAt: previous?.refreshedAt ?? null,
          error,
          instances: previous?.instances ?? 0,
        })
        .catch(() => {});
      const awsCode = (err as { awsCode?: unknown }).awsCode;
      if (typeof awsCode === 'string') throw new TaskError(awsCode, error, { cause: err });
      throw err;
    }
    ctx.progress(0.8, `${found.length} instances: reconciling`);
    const seen: SeenInstance[] = found.map((i) => ({ accountId: a.id, region, ...i }));
    const at = this.now();
    // The account may have been removed meanwhile: the catalog's foreign keys refuse its rows, and that is fine.
    const { gone } = await this.catalog.transaction(async (tx) => {
      const r = await tx.inventory.reconcile(a.id, region, seen, at);
      await tx.inventory.setRegionStatus({
        accountId: a.id,
        region,
        attemptedAt,
        refreshedAt: at,
        error: null,
        instances: seen.length,
      });
      return r;
    });
    await this.dropUnretained(gone);
    await ctx.log(
      'info',
      `${seen.length} instances, ${gone.length} gone (${calls} EC2 attempt${calls === 1 ? '' : 's'})`,
    );
    return {
      result: { account: a.name, region, instances: seen.length, gone: gone.length, awsAttempts: calls },
    };
  }

  private async dropUnretained(keys: string[]): Promise<void> {
    const drop: string[] = [];
    for (const key of keys) {
      const [accountId, region, instanceId] = key.split('/') as [string, string, string];
      const row = await this.catalog.inventory.get(accountId, region, instanceId);
      if (row && !(await this.retainGone(row))) drop.push(instanceKey(accountId, region, instanceId));
    }
    if (drop.length > 0) await this.catalog.inventory.remove(drop);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}
