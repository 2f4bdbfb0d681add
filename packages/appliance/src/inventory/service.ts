import type { AccountRecord, Catalog, InstanceRecord, SeenInstance } from '@lifeboat/catalog';
import { instanceKey } from '@lifeboat/catalog';
import type { AccountService, AccountsAws } from '../accounts/service.js';
import type { Actor, AuditLog } from '../audit.js';
import type { Clock } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { EventHub } from '../events.js';

/** Refreshes run every 15 minutes unless the server says otherwise. */
export const DEFAULT_INVENTORY_INTERVAL_MS = 15 * 60_000;
/** Account × region refreshes in flight at once. */
const PARALLEL = 4;

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

export interface RefreshReport {
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
 * reconciled into the catalog. One region failing never stops the others: its error is recorded for that
 * account × region (shown by `instance list` and `account show`) and the rest go on. One refresh at a time: a
 * call made while one runs waits for it, then runs.
 */
export class InventoryService {
  private running: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  retainGone: RetainGone = KEEP_ALL_GONE;

  constructor(
    private readonly catalog: Catalog,
    private readonly accounts: AccountService,
    private readonly aws: AccountsAws,
    private readonly audit: AuditLog,
    private readonly events: EventHub,
    private readonly clock: Clock,
  ) {}

  /** Refreshes on demand, recorded in the audit log as the actor's. */
  async refreshBy(actor: Actor, scope: RefreshScope = {}): Promise<RefreshReport> {
    if (scope.account !== undefined && !(await this.catalog.accounts.get(scope.account))) {
      throw new ApplianceError('NOT_FOUND', `no account named ${scope.account}`);
    }
    await this.audit.note(actor, {
      action: 'inventory.refresh',
      target: scope.account ? `account/${scope.account}` : null,
      details: { ...scope },
    });
    return this.refresh(scope);
  }

  /** One refresh of the scope (every account and region by default), after any refresh in progress. */
  refresh(scope: RefreshScope = {}): Promise<RefreshReport> {
    const run = this.running.then(
      () => this.run(scope),
      () => this.run(scope),
    );
    this.running = run.catch(() => {});
    return run;
  }

  /** Runs `refresh()` every `intervalMs` (0: never) until stop(). */
  schedule(intervalMs: number): void {
    this.stop();
    if (intervalMs > 0) {
      this.timer = setInterval(() => void this.refresh().catch(() => {}), intervalMs);
      this.timer.unref();
    }
  }

  /** Stops the schedule and waits for a refresh in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
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

  private async run(scope: RefreshScope): Promise<RefreshReport> {
    const startedAt = this.now();
    const accounts: AccountRecord[] = [];
    if (scope.account !== undefined) {
      const a = await this.catalog.accounts.get(scope.account);
      if (a) accounts.push(a);
    } else {
      for (let after: string | undefined; ; ) {
        const page = await this.catalog.accounts.list({ limit: 500, ...(after !== undefined && { after }) });
        accounts.push(...page);
        if (page.length < 500) break;
        after = page[page.length - 1]!.name;
      }
    }
    const jobs = accounts.flatMap((a) =>
      a.regions
        .filter((r) => scope.region === undefined || r === scope.region)
        .map((region) => ({ a, region })),
    );
    const results: RegionRefresh[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        results.push(await this.refreshRegion(job.a, job.region));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, worker));
    results.sort((x, y) => x.account.localeCompare(y.account) || x.region.localeCompare(y.region));
    const report = { startedAt, endedAt: this.now(), regions: results };
    await this.events
      .publish('inventory.refreshed', {
        startedAt,
        endedAt: report.endedAt,
        regions: results.map(({ account, region, ok, instances, gone }) => ({
          account,
          region,
          ok,
          instances,
          gone,
        })),
      })
      .catch(() => {});
    return report;
  }

  /** One account × region; never throws: a failure is its result (and its recorded status). */
  private async refreshRegion(a: AccountRecord, region: string): Promise<RegionRefresh> {
    const attemptedAt = this.now();
    try {
      const found = await this.aws.instances(this.accounts.access(a), region);
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
      return { account: a.name, region, ok: true, instances: seen.length, gone: gone.length, error: null };
    } catch (err) {
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
      return { account: a.name, region, ok: false, instances: 0, gone: 0, error };
    }
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
