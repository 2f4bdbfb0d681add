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

  /** The adapter for an account × region, its calls counted for `sessionId`. */
  ec2(account: AccountRecord, region: string, sessionId: string | null): Ec2Snapshots {
    return this.factory(account, region, (api, r) => sessionId && this.calls.count(sessionId, api, r));
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
  }
}
