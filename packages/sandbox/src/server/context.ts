import { randomBytes } from 'node:crypto';
import type { BlockEngine } from '../core/blocks.js';
import type { Account, RegionInfo } from '../core/model.js';
import { defaultSettings, type SandboxContext, type Settings, type Timing } from '../core/service.js';
import type { StateStore } from '../core/state.js';
import type { Counters } from './counters.js';

/**
 * The context shared by all services. The clock is the wall clock plus an offset that tests can advance (token
 * expiry, snapshot timeouts); SigV4 checks use the real wall clock, as the clients sign with it.
 */
export class Context implements SandboxContext {
  private offsetMs = 0;
  readonly settings: Settings = defaultSettings();

  constructor(
    readonly state: StateStore,
    readonly blocks: BlockEngine,
    readonly accounts: readonly Account[],
    readonly regions: readonly RegionInfo[],
    readonly timing: Timing,
    private readonly counters: Counters,
  ) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advanceClock(ms: number): void {
    this.offsetMs += ms;
  }

  newId(prefix: string): string {
    const p = prefix.endsWith('-') ? prefix : `${prefix}-`;
    return p + randomBytes(9).toString('hex').slice(0, 17);
  }

  /** The server counts every AWS request itself; services call this only for work outside a request. */
  count(service: string, operation: string, bytesIn: number, bytesOut: number): void {
    this.counters.count(service, operation, bytesIn, bytesOut);
  }
}
