/**
 * Restore points as people see them: the timeline (newest first, volumes, replicas, holds), holds by hand,
 * and the rescan and janitor sessions (one task per account × region).
 */
import { randomUUID } from 'node:crypto';
import type { AccountRecord, HoldRecord, PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';
import type { Actor, AuditLog } from '../audit.js';
import { ApplianceError } from '../errors.js';
import type { JobEngine, SessionWithTasks } from '../jobs/engine.js';
import type { TaskSpec } from '../jobs/types.js';
import {
  JANITOR_SESSION,
  type PointFilter,
  type PointSnapshot,
  RESCAN_SESSION,
  type RestorePoint,
} from '../policies/types.js';
import type { SnapshotEnv } from './env.js';
import { JANITOR_TASK, type JanitorTaskInput } from './janitor.js';
import { RESCAN_TASK, type RescanTaskInput } from './rescan.js';

export class PointService {
  constructor(
    private readonly env: SnapshotEnv,
    private readonly audit: AuditLog,
    private readonly jobs: JobEngine,
  ) {}

  async list(
    filter: PointFilter,
    page: { limit: number; before?: { createdAt: string; id: string } },
  ): Promise<RestorePoint[]> {
    let policyId: string | undefined;
    if (filter.policy !== undefined) {
      const p = await this.env.catalog.policies.get(filter.policy);
      // A removed policy's points are still found by its old name.
      policyId = p?.id;
      if (!p) {
        const rows = await this.env.catalog.points.list({
          limit: page.limit,
          ...(page.before && { before: page.before }),
          ...(filter.instanceId && { instanceId: filter.instanceId }),
          ...(filter.all && { states: ['creating', 'available', 'partial', 'failed', 'deleted'] }),
          orphaned: true,
        });
        return this.views(rows.filter((r) => r.policyName === filter.policy));
      }
    }
    let accountId: string | undefined;
    if (filter.account !== undefined) {
      const a = await this.env.catalog.accounts.get(filter.account);
      if (!a) return [];
      accountId = a.id;
    }
    const rows = await this.env.catalog.points.list({
      limit: page.limit,
      ...(page.before && { before: page.before }),
      ...(filter.instanceId && { instanceId: filter.instanceId }),
      ...(policyId && { policyId }),
      ...(accountId && { accountId }),
      ...(filter.region && { region: filter.region }),
      ...(filter.orphaned && { orphaned: true }),
      ...(filter.all && { states: ['creating', 'available', 'partial', 'failed', 'deleted'] }),
    });
    return this.views(rows);
  }

  async get(id: string): Promise<RestorePoint> {
    const r = await this.env.catalog.points.get(id);
    if (!r) throw new ApplianceError('NOT_FOUND', `no restore point ${id}: see timeline`);
    return { ...(await this.views([r]))[0]!, configuration: r.configuration };
  }

  /** Holds a point: retention skips it (and says why) until it is released. */
  async hold(actor: Actor, id: string, reason: string): Promise<RestorePoint> {
    const text = reason.trim();
    if (text.length === 0 || text.length > 500) {
      throw new ApplianceError('VALIDATION_FAILED', 'a hold needs a reason (1-500 characters)', {
        errors: [{ path: 'reason', message: 'required, 1-500 characters' }],
      });
    }
    await this.get(id);
    const hold: HoldRecord = {
      id: randomUUID(),
      pointId: id,
      kind: 'manual',
      reason: text,
      createdBy: actor.name,
      createdAt: this.env.clock.now().toISOString(),
    };
    await this.audit.change(actor, async (tx, note) => {
      await tx.points.addHold(hold);
      await note({ action: 'point.hold', target: `restore-point/${id}`, details: { reason: text } });
    });
    return this.get(id);
  }

  /** Releases the manual holds of a point (the appliance's own holds end with their restore or backup). */
  async release(actor: Actor, id: string): Promise<RestorePoint> {
    await this.get(id);
    const removed = await this.audit.change(actor, async (tx, note) => {
      const n = await tx.points.removeHolds(id, 'manual');
      if (n > 0)
        await note({ action: 'point.release', target: `restore-point/${id}`, details: { holds: n } });
      return n;
    });
    if (removed === 0) throw new ApplianceError('NOT_FOUND', `restore point ${id} has no hold to release`);
    return this.get(id);
  }

  rescan(actor: Actor, scope: { account?: string; region?: string }): Promise<SessionWithTasks> {
    return this.regionSession(actor, scope, RESCAN_SESSION, RESCAN_TASK, 'rescan');
  }

  janitor(actor: Actor, scope: { account?: string; region?: string }): Promise<SessionWithTasks> {
    return this.regionSession(actor, scope, JANITOR_SESSION, JANITOR_TASK, 'janitor');
  }

  async awsCalls(sessionId: string) {
    if (!(await this.env.catalog.sessions.get(sessionId))) {
      throw new ApplianceError('NOT_FOUND', `no session ${sessionId}`);
    }
    return this.env.catalog.awsCalls.ofSession(sessionId);
  }

  private async regionSession(
    actor: Actor,
    scope: { account?: string; region?: string },
    kind: string,
    taskKind: string,
    what: string,
  ): Promise<SessionWithTasks> {
    const accounts: AccountRecord[] = [];
    if (scope.account !== undefined) accounts.push(await this.env.accountByName(scope.account));
    else {
      for (let after: string | undefined; ; ) {
        const page = await this.env.catalog.accounts.list({ limit: 100, ...(after && { after }) });
        accounts.push(...page);
        if (page.length < 100) break;
        after = page[page.length - 1]!.name;
      }
    }
    const tasks: TaskSpec[] = [];
    for (const a of accounts) {
      for (const region of a.regions) {
        if (scope.region !== undefined && region !== scope.region) continue;
        tasks.push({
          kind: taskKind,
          resource: `${a.name}/${region}`,
          account: a.name,
          region,
          input: { accountId: a.id, region } satisfies RescanTaskInput & JanitorTaskInput,
        });
      }
    }
    if (tasks.length === 0) {
      throw new ApplianceError(
        'NOT_FOUND',
        `nothing to ${what}: no registered account scans ${scope.region ?? 'any region'}${scope.account ? ` in ${scope.account}` : ''}`,
      );
    }
    const where = [scope.account, scope.region].filter(Boolean).join('/');
    return this.jobs.startSession(actor, { kind, name: where ? `${what} ${where}` : what, tasks });
  }

  private async views(rows: RestorePointRecord[]): Promise<RestorePoint[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const snaps = await this.env.catalog.points.snapshotsOf(ids);
    const holds = await this.env.catalog.points.holdsOf(ids);
    const accounts = new Map<string, AccountRecord | undefined>();
    const accountOf = async (id: string | null) => {
      if (!id) return undefined;
      if (!accounts.has(id)) accounts.set(id, await this.env.catalog.accounts.getById(id));
      return accounts.get(id);
    };
    const policies = new Map<string, boolean>();
    const out: RestorePoint[] = [];
    for (const r of rows) {
      if (r.policyId && !policies.has(r.policyId)) {
        policies.set(r.policyId, (await this.env.catalog.policies.getById(r.policyId)) !== undefined);
      }
      const a = await accountOf(r.accountId);
      const inv = r.accountId
        ? await this.env.catalog.inventory.get(r.accountId, r.region, r.instanceId)
        : undefined;
      const mine = snaps.filter((s) => s.pointId === r.id);
      const view = async (s: PointSnapshotRecord): Promise<PointSnapshot> => ({
        snapshotId: s.snapshotId,
        role: s.role,
        account: (await accountOf(s.accountId))?.name ?? s.awsAccountId,
        awsAccountId: s.awsAccountId,
        region: s.region,
        device: s.device,
        sizeGiB: s.sizeGiB,
        encrypted: s.encrypted,
        kmsKeyId: s.kmsKeyId,
        state: s.state,
        sealed: s.sealed,
        target: s.target,
        sourceSnapshotId: s.sourceSnapshotId,
      });
      out.push({
        id: r.id,
        createdAt: r.createdAt,
        state: r.state,
        policy: r.policyName,
        policyId: r.policyId,
        orphaned: r.policyId !== null && !policies.get(r.policyId),
        account: a?.name ?? null,
        awsAccountId: r.awsAccountId,
        region: r.region,
        instanceId: r.instanceId,
        instanceName: inv?.name ?? null,
        sessionId: r.sessionId,
        volumes: await Promise.all(mine.filter((s) => s.role === 'source').map(view)),
        replicas: await Promise.all(mine.filter((s) => s.role === 'replica').map(view)),
        holds: holds
          .filter((h) => h.pointId === r.id)
          .map((h) => ({
            id: h.id,
            kind: h.kind,
            reason: h.reason,
            createdBy: h.createdBy,
            createdAt: h.createdAt,
          })),
        hasConfiguration: r.configuration !== null,
      });
    }
    return out;
  }
}
