import { AwsError } from '../core/errors.js';

/** AWS's default EBS direct API request quotas, per second. */
export const DEFAULT_QUOTAS = {
  perAccount: {
    GetSnapshotBlock: 1000,
    PutSnapshotBlock: 1000,
    ListSnapshotBlocks: 50,
    ListChangedBlocks: 50,
    StartSnapshot: 10,
    CompleteSnapshot: 10,
  } as Record<string, number>,
  perSnapshot: { GetSnapshotBlock: 1000, PutSnapshotBlock: 1000 } as Record<string, number>,
};

export interface QuotaSettings {
  enabled: boolean;
  perAccount: Record<string, number>;
  perSnapshot: Record<string, number>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * EBS direct request quotas as token buckets (capacity and refill = the per-second quota). Off by default, as a
 * sandbox should not throttle unless a test asks it to.
 */
export class EbsQuotas {
  private settings: QuotaSettings = { enabled: false, ...structuredClone(DEFAULT_QUOTAS) };
  private readonly buckets = new Map<string, Bucket>();

  get(): QuotaSettings {
    return structuredClone(this.settings);
  }

  set(change: Partial<QuotaSettings>): QuotaSettings {
    this.settings = {
      enabled: change.enabled ?? this.settings.enabled,
      perAccount: { ...this.settings.perAccount, ...change.perAccount },
      perSnapshot: { ...this.settings.perSnapshot, ...change.perSnapshot },
    };
    this.buckets.clear();
    return this.get();
  }

  /** Throws RequestThrottledException when the call is over a quota. */
  check(
    operation: string,
    accountId: string,
    region: string,
    snapshotId: string | undefined,
    now: number,
  ): void {
    if (!this.settings.enabled) return;
    const account = this.settings.perAccount[operation];
    if (account !== undefined && !this.take(`a|${accountId}|${region}|${operation}`, account, now)) {
      throw throttled('ACCOUNT_THROTTLED', operation);
    }
    const snap = this.settings.perSnapshot[operation];
    if (snapshotId && snap !== undefined && !this.take(`s|${snapshotId}|${operation}`, snap, now)) {
      throw throttled('RESOURCE_LEVEL_THROTTLE', operation);
    }
  }

  private take(key: string, perSecond: number, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: perSecond, at: now };
    b.tokens = Math.min(perSecond, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function throttled(reason: string, operation: string): AwsError {
  return new AwsError('RequestThrottledException', `The ${operation} request rate is over the quota.`, 400, {
    Reason: reason,
  });
}
