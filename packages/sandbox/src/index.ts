/**
 * @lifeboat/sandbox: an AWS-compatible local cloud on one loopback port (SigV4-verified EC2 and EBS direct
 * APIs, with real block content and snapshot lineage), plus a sandbox-only admin API under /_sandbox/.
 */
export type { Account, RegionInfo } from './core/model.js';
export type { Consistency, Ec2Quotas, Timing } from './core/service.js';
export { DEFAULT_TIMING, ZERO_TIMING } from './core/service.js';
export type { QuotaSettings } from './ebs/quotas.js';
export { type RunningSandbox, type SandboxOptions, startSandbox } from './sandbox.js';
export { TEST_ACCOUNTS, TEST_REGIONS } from './server/accounts.js';
export type { ImportVolume, NewVolume, SandboxQuotas } from './server/admin-ops.js';
export type { Counter } from './server/counters.js';
export type { FaultKind, FaultRule } from './server/faults.js';
export const VERSION = '0.1.0';
