import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsCallCounter, Ec2Snapshots } from '@lifeboat/aws';
import type { AccountRecord, Catalog } from '@lifeboat/catalog';
import type { AccountService } from '../accounts/service.js';
import type { AuditLog } from '../audit.js';
import type { Clock } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { SecretBox } from '../secret.js';
import { CallRecorder } from './calls.js';
import { SnapshotLookup } from './lookup.js';
import { Semaphore } from './semaphore.js';

/** Makes the EC2/KMS adapter of an account × region (Ec2Snapshots; a fake in unit tests). */
export type SnapshotsAwsFactory = (
  account: AccountRecord,
  region: string,
  onCall: AwsCallCounter,
) => Ec2Snapshots;

export interface SnapshotEnvOptions {
  /** Concurrent snapshot copies per destination account × region (AWS allows 20). */
  copiesPerRegion?: number;
  /** How often pending snapshots are looked at (first poll; it backs off to maxPollMs). */
  pollMs?: number;
  maxPollMs?: number;
}

/** What the snapshot tasks, retention, the janitor and rescans share. */
export class SnapshotEnv {
  readonly calls: CallRecorder;
  readonly lookup: SnapshotLookup;
  private readonly copySlots = new Map<string, Semaphore>();
  private readonly clients = new Map<string, Ec2Snapshots>();
  private readonly scope = new AsyncLocalStorage<string>();
  private readonly copiesPerRegion: number;

  constructor(
    readonly catalog: Catalog,
    readonly secrets: SecretBox,
    readonly clock: Clock,
    readonly accounts: AccountService,
    readonly audit: AuditLog,
    private readonly factory: SnapshotsAwsFactory,
    options: SnapshotEnvOptions = {},
  ) {
    this.calls = new CallRecorder(catalog);
    this.lookup = new SnapshotLookup(clock, options.pollMs ?? 1_000, options.maxPollMs ?? 15_000);
    this.copiesPerRegion = options.copiesPerRegion ?? 20;
  }

  /**
   * The adapter for an account × region, its calls counted for `sessionId`. One SDK client pair per account ×
   * region serves every task (kept-alive connections, no client set up per instance); each call runs in its
   * session's async context, which the counting middleware reads. `destroy()` of what this returns does nothing:
   * the clients live until close().
   */
  ec2(account: AccountRecord, region: string, sessionId: string | null): Ec2Snapshots {
    const key = `${account.id}@${account.version}/${region}`;
    let shared = this.clients.get(key);
    if (!shared) {
      for (const [k, c] of this.clients) {
        // Credentials changed with the account's version: the old client goes.
        if (k.startsWith(`${account.id}@`) && k.endsWith(`/${region}`)) {
          c.destroy();
          this.clients.delete(k);
        }
      }
      shared = this.factory(account, region, (api, r) => {
        const s = this.scope.getStore();
        if (s) this.calls.count(s, api, r);
      });
      this.clients.set(key, shared);
    }
    const scope = this.scope;
    const target = shared;
    return new Proxy(target, {
      get(t, prop, receiver) {
        if (prop === 'destroy') return () => {};
        const v = Reflect.get(t, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) =>
          sessionId ? scope.run(sessionId, () => v.apply(target, args)) : v.apply(target, args);
      },
    });
  }

  /** A catalog account by id; NOT_FOUND names what to do. */
  async account(id: string): Promise<AccountRecord> {
    const a = await this.catalog.accounts.getById(id);
    if (!a) {
      throw new ApplianceError(
        'NOT_FOUND',
        `account ${id} is no longer registered: register it again (account add)`,
      );
    }
    return a;
  }

  async accountByName(name: string): Promise<AccountRecord> {
    const a = await this.catalog.accounts.get(name);
    if (!a)
      throw new ApplianceError('NOT_FOUND', `no account named ${name}: register it first (account add)`);
    return a;
  }

  /** The queue of copies into one account × region, under AWS's limit of concurrent copies there. */
  copyQueue(awsAccountId: string, region: string): Semaphore {
    const key = `${awsAccountId}/${region}`;
    let s = this.copySlots.get(key);
    if (!s) {
      s = new Semaphore(this.copiesPerRegion);
      this.copySlots.set(key, s);
    }
    return s;
  }

  close(): void {
    this.lookup.close();
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}
