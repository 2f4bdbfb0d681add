/**
 * Policies: apply (create or update, with a dry run that says what would change), enable/disable, run now,
 * remove (leaving the snapshots orphaned, or deleting them in a session), and their views with the next run.
 */
import { randomUUID } from 'node:crypto';
import type { PolicyRecord } from '@lifeboat/catalog';
import { isCatalogError } from '@lifeboat/catalog';
import type { Actor, AuditLog } from '../audit.js';
import type { Clock } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { JobEngine, SessionWithTasks } from '../jobs/engine.js';
import { DELETE_TASK, type DeleteTaskInput } from '../snapshots/delete-task.js';
import type { SnapshotEnv } from '../snapshots/env.js';
import { loadPointStates } from '../snapshots/points-load.js';
import { decideRetention } from '../snapshots/retention.js';
import { type PolicyDocument, policyErrors, selects } from './document.js';
import { planRun, retentionRules, volumesOf } from './planner.js';
import { describeSchedule, nextRun } from './schedule.js';
import {
  DELETE_SNAPSHOTS_SESSION,
  POLICY_RUN_SESSION,
  type Policy,
  type PolicyChangeReport,
  type PolicyWarning,
  type SelectedInstance,
} from './types.js';

export class PolicyService {
  constructor(
    private readonly env: SnapshotEnv,
    private readonly audit: AuditLog,
    private readonly jobs: JobEngine,
    private readonly clock: Clock,
    /** The time zone of schedules that name none. */
    readonly defaultZone = 'UTC',
  ) {}

  async list(page: { limit: number; after?: string }): Promise<Policy[]> {
    const rows = await this.env.catalog.policies.list(page);
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(name: string): Promise<Policy> {
    return this.view(await this.record(name));
  }

  async record(name: string): Promise<PolicyRecord> {
    const r = await this.env.catalog.policies.get(name);
    if (!r) throw new ApplianceError('NOT_FOUND', `no policy named ${name}: see policy list`);
    return r;
  }

  /** Validates the document, then creates or updates the policy (or, with dryRun, only reports). */
  async apply(
    actor: Actor,
    document: unknown,
    options: { dryRun?: boolean; expectedVersion?: number; createOnly?: boolean } = {},
  ): Promise<PolicyChangeReport> {
    const doc = this.validate(document);
    await this.checkReferences(doc);
    const old = await this.env.catalog.policies.get(doc.name);
    if (old && options.createOnly) {
      throw new ApplianceError(
        'CONFLICT',
        `a policy named ${doc.name} exists: use policy apply to change it`,
      );
    }
    if (old && options.expectedVersion !== undefined && old.version !== options.expectedVersion) {
      throw new ApplianceError(
        'PRECONDITION_FAILED',
        `policy ${doc.name} is at version ${old.version}, not ${options.expectedVersion}: read it again`,
      );
    }
    const report = await this.report(doc, old, options.dryRun ?? false);
    if (options.dryRun || report.action === 'unchanged') return report;
    const at = this.clock.now().toISOString();
    const saved = await this.audit
      .change(actor, async (tx, note) => {
        const r = old
          ? await tx.policies.update(
              old.id,
              options.expectedVersion ?? old.version,
              { document: { ...doc } },
              at,
            )
          : await tx.policies.insert(
              { id: randomUUID(), name: doc.name, document: { ...doc }, enabled: true },
              at,
            );
        await note({
          action: old ? 'policy.update' : 'policy.create',
          target: `policy/${doc.name}`,
          details: { changed: report.changedFields, selected: report.selected.length },
        });
        return r;
      })
      .catch(rethrow(`policy ${doc.name}`));
    return { ...report, policy: await this.view(saved) };
  }

  async setEnabled(actor: Actor, name: string, enabled: boolean, expectedVersion?: number): Promise<Policy> {
    const at = this.clock.now().toISOString();
    const r = await this.audit
      .change(actor, async (tx, note) => {
        const p = await tx.policies.get(name);
        if (!p) throw new ApplianceError('NOT_FOUND', `no policy named ${name}`);
        const updated = await tx.policies.update(p.id, expectedVersion, { enabled }, at);
        // Enabling does not run what was missed while disabled: the schedule starts from now.
        if (enabled && !p.enabled) await tx.policies.setScheduleState(p.id, { lastDueAt: at });
        await note({ action: enabled ? 'policy.enable' : 'policy.disable', target: `policy/${name}` });
        return updated;
      })
      .catch(rethrow(`policy ${name}`));
    return this.view(r);
  }

  /** Removes a policy; its snapshots stay (orphaned) unless deleteSnapshots starts a session deleting them. */
  async remove(
    actor: Actor,
    name: string,
    options: { deleteSnapshots?: boolean; expectedVersion?: number } = {},
  ): Promise<{ sessionId: string | null }> {
    const p = await this.record(name);
    const running = await this.runningSession(p);
    if (running) {
      throw new ApplianceError(
        'CONFLICT',
        `policy ${name} is running (session ${running}): wait for it or cancel it`,
      );
    }
    let sessionId: string | null = null;
    if (options.deleteSnapshots) {
      const tasks = await this.deleteTasks(p);
      const s = await this.jobs.startSession(actor, {
        kind: DELETE_SNAPSHOTS_SESSION,
        name: `delete the snapshots of policy ${name}`,
        tasks,
      });
      sessionId = s.id;
    }
    await this.audit
      .change(actor, async (tx, note) => {
        await tx.policies.remove(p.id, options.expectedVersion);
        await note({
          action: 'policy.remove',
          target: `policy/${name}`,
          details: { deleteSnapshots: options.deleteSnapshots ?? false, sessionId },
        });
      })
      .catch(rethrow(`policy ${name}`));
    return { sessionId };
  }

  /** Starts a run now; CONFLICT while the previous one still runs. */
  async run(actor: Actor, name: string): Promise<SessionWithTasks> {
    const p = await this.record(name);
    const running = await this.runningSession(p);
    if (running) {
      throw new ApplianceError(
        'CONFLICT',
        `policy ${name}'s previous session ${running} still runs: wait for it`,
      );
    }
    return this.startRun(actor, p);
  }

  /** A session of the policy: planned from a fresh read of its accounts and regions. */
  async startRun(actor: Actor, p: PolicyRecord): Promise<SessionWithTasks> {
    const doc = p.document as unknown as PolicyDocument;
    const plan = await planRun(this.env, this.clock, { id: p.id, name: p.name, document: doc });
    const session = await this.jobs.startSession(actor, {
      kind: POLICY_RUN_SESSION,
      name: `policy ${p.name}`,
      tasks: plan.tasks,
    });
    this.env.calls.move(plan.callsKey, session.id);
    await this.env.calls.flush(session.id);
    await this.env.catalog.policies.setScheduleState(p.id, { lastSessionId: session.id });
    return session;
  }

  /** The scheduler handled the run due at `at` (ran, skipped or missed it). */
  markDue(id: string, at: string): Promise<void> {
    return this.env.catalog.policies.setScheduleState(id, { lastDueAt: at });
  }

  /** The id of the policy's last session while it is queued or running. */
  async runningSession(p: PolicyRecord): Promise<string | null> {
    if (!p.lastSessionId) return null;
    const s = await this.env.catalog.sessions.get(p.lastSessionId);
    return s && (s.state === 'queued' || s.state === 'running') ? s.id : null;
  }

  private validate(document: unknown): PolicyDocument {
    const errors = policyErrors(document);
    if (errors.length > 0) {
      throw new ApplianceError(
        'VALIDATION_FAILED',
        `the policy is not valid: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
        {
          errors: errors.map((e) => {
            const i = e.indexOf(': ');
            return i > 0 ? { path: e.slice(0, i), message: e.slice(i + 2) } : { path: '', message: e };
          }),
        },
      );
    }
    return document as PolicyDocument;
  }

  /** Accounts named must be registered (the replicas' too). */
  private async checkReferences(doc: PolicyDocument): Promise<void> {
    const errors: Array<{ path: string; message: string }> = [];
    for (const [i, name] of doc.resources.accounts.entries()) {
      if (!(await this.env.catalog.accounts.get(name))) {
        errors.push({
          path: `resources.accounts[${i}]`,
          message: `no account named ${name} is registered (account add)`,
        });
      }
    }
    for (const [i, r] of (doc.replicas ?? []).entries()) {
      if (!(await this.env.catalog.accounts.get(r.account))) {
        errors.push({
          path: `replicas[${i}].account`,
          message: `no account named ${r.account} is registered (account add)`,
        });
      }
    }
    if (errors.length > 0) {
      throw new ApplianceError(
        'VALIDATION_FAILED',
        `the policy is not valid: ${errors[0]!.path}: ${errors[0]!.message}`,
        {
          errors,
        },
      );
    }
  }

  /** What applying `doc` changes: fields, the selection (from the inventory), what retention would delete. */
  private async report(
    doc: PolicyDocument,
    old: PolicyRecord | undefined,
    dryRun: boolean,
  ): Promise<PolicyChangeReport> {
    const oldDoc = old?.document as unknown as PolicyDocument | undefined;
    const changedFields = oldDoc ? changed(oldDoc, doc) : [];
    const { selected, warnings } = await this.preview(doc);
    const before = oldDoc ? (await this.preview(oldDoc)).selected : [];
    const key = (s: SelectedInstance) => `${s.account}/${s.region}/${s.instanceId}`;
    const now = new Set(selected.map(key));
    const was = new Set(before.map(key));
    const wouldDelete: PolicyChangeReport['wouldDelete'] = [];
    if (old) {
      const rules = retentionRules(doc);
      const states = await loadPointStates(this.env.catalog, { policyId: old.id });
      const byInstance = new Map<string, typeof states>();
      for (const s of states)
        byInstance.set(s.point.instanceId, [...(byInstance.get(s.point.instanceId) ?? []), s]);
      for (const [instanceId, points] of byInstance) {
        const inv = points[0]!.point.accountId
          ? await this.env.catalog.inventory.get(
              points[0]!.point.accountId,
              points[0]!.point.region,
              instanceId,
            )
          : undefined;
        const gone = !inv || inv.state === 'gone';
        for (const d of decideRetention(points, rules, this.clock.now().getTime(), gone).delete) {
          const a = d.snapshot.accountId
            ? await this.env.catalog.accounts.getById(d.snapshot.accountId)
            : undefined;
          wouldDelete.push({
            pointId: d.point.id,
            instanceId,
            snapshotId: d.snapshot.snapshotId,
            region: d.snapshot.region,
            account: a?.name ?? d.snapshot.awsAccountId,
          });
        }
      }
    }
    return {
      action: !old ? 'create' : changedFields.length > 0 ? 'update' : 'unchanged',
      dryRun,
      policy: old ? await this.view(old) : null,
      changedFields,
      selected,
      added: [...now].filter((k) => !was.has(k)),
      removed: [...was].filter((k) => !now.has(k)),
      wouldDelete,
      warnings,
    };
  }

  /** What a document selects according to the inventory (the run itself reads AWS afresh). */
  async preview(doc: PolicyDocument): Promise<{ selected: SelectedInstance[]; warnings: PolicyWarning[] }> {
    const selected: SelectedInstance[] = [];
    const warnings: PolicyWarning[] = [];
    for (const name of doc.resources.accounts) {
      const a = await this.env.catalog.accounts.get(name);
      if (!a) continue;
      for (const region of doc.resources.regions) {
        if (!a.regions.includes(region)) {
          warnings.push({
            code: 'UNKNOWN_REGION',
            message: `account ${name} does not scan ${region}: its inventory cannot preview it (account edit --regions)`,
          });
        }
        let after: string | undefined;
        for (;;) {
          const page = await this.env.catalog.inventory.list({
            accountId: a.id,
            region,
            limit: 500,
            ...(after && { after }),
          });
          for (const i of page) {
            if (i.state === 'gone' || i.state === 'terminated') continue;
            if (!selects(doc, i)) continue;
            const v = volumesOf(doc, {
              view: { ...i, volumes: i.volumes },
              configuration: { instanceId: i.instanceId },
            } as never);
            selected.push({
              account: name,
              region,
              instanceId: i.instanceId,
              name: i.name,
              state: i.state,
              devices: v.volumes.map((x) => x.device),
              excludedDevices: v.excludedDevices,
            });
          }
          if (page.length < 500) break;
          const last = page[page.length - 1]!;
          after = `${last.accountId}/${last.region}/${last.instanceId}`;
        }
      }
    }
    if (selected.length === 0) {
      warnings.push({
        code: 'SELECTS_NOTHING',
        message:
          'the policy selects no instance in the inventory: check resources (ids, tags, accounts, regions)',
      });
    }
    return { selected, warnings };
  }

  private async deleteTasks(p: PolicyRecord) {
    const states = await loadPointStates(this.env.catalog, { policyId: p.id });
    const byRegion = new Map<string, DeleteTaskInput>();
    for (const s of states) {
      for (const snap of s.snapshots) {
        if (snap.state === 'deleted' || !snap.accountId) continue;
        const key = `${snap.accountId}/${snap.region}`;
        const t = byRegion.get(key) ?? {
          policyId: p.id,
          accountId: snap.accountId,
          region: snap.region,
          snapshots: [],
        };
        t.snapshots.push({ pointId: s.point.id, snapshotId: snap.snapshotId });
        byRegion.set(key, t);
      }
    }
    const tasks = [];
    for (const t of byRegion.values()) {
      const a = await this.env.catalog.accounts.getById(t.accountId);
      tasks.push({
        kind: DELETE_TASK,
        resource: `${a?.name ?? t.accountId}/${t.region}`,
        account: a?.name ?? t.accountId,
        region: t.region,
        input: t,
      });
    }
    return tasks;
  }

  private async view(r: PolicyRecord): Promise<Policy> {
    const doc = r.document as unknown as PolicyDocument;
    const next =
      r.enabled && doc.schedule
        ? nextRun(doc.schedule, this.clock.now().getTime(), this.defaultZone)
        : Number.NaN;
    const points = await this.env.catalog.points.list({ policyId: r.id, limit: 1000 });
    return {
      id: r.id,
      name: r.name,
      document: doc,
      enabled: r.enabled,
      version: r.version,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      scheduleText: doc.schedule ? describeSchedule(doc.schedule, this.defaultZone) : null,
      nextRunAt: Number.isFinite(next) ? new Date(next).toISOString() : null,
      lastSessionId: r.lastSessionId,
      points: points.length,
    };
  }
}

/** Top-level (and second-level) fields whose values differ. */
function changed(a: PolicyDocument, b: PolicyDocument): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof PolicyDocument>;
  for (const k of keys) {
    const x = a[k] as unknown;
    const y = b[k] as unknown;
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      const sub = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const s of sub) {
        const xs = (x as Record<string, unknown>)[s];
        const ys = (y as Record<string, unknown>)[s];
        if (JSON.stringify(xs) !== JSON.stringify(ys)) out.push(`${k}.${s}`);
      }
    } else out.push(k);
  }
  return out;
}

function rethrow(what: string): (err: unknown) => never {
  return (err) => {
    if (isCatalogError(err)) {
      if (err.code === 'NOT_FOUND') throw new ApplianceError('NOT_FOUND', `${what} does not exist`);
      if (err.code === 'CONFLICT') throw new ApplianceError('CONFLICT', `${what} exists already`);
      if (err.code === 'VERSION_MISMATCH') {
        throw new ApplianceError('PRECONDITION_FAILED', `${what} changed since you read it: read it again`);
      }
    }
    throw err;
  };
}
