/**
 * The appliance's client commands (issues 15, 16, 17): login, logout, whoami, user, audit, session, account,
 * instance, policy, timeline, hold, release, rescan, janitor.
 */
import type { Command } from 'commander';
import { registerAccounts } from '../commands/accounts.js';
import { registerAudit } from '../commands/audit.js';
import { registerInstances } from '../commands/instances.js';
import { registerLogin } from '../commands/login.js';
import { registerPolicies } from '../commands/policies.js';
import { registerSessions } from '../commands/sessions.js';
import { registerSessionCalls, registerTimeline } from '../commands/timeline.js';
import { registerUsers } from '../commands/users.js';

export function registerApplianceClient(program: Command): void {
  registerLogin(program);
  registerUsers(program);
  registerAudit(program);
  registerSessions(program);
  registerAccounts(program);
  registerInstances(program);
  registerPolicies(program);
  registerTimeline(program);
  registerSessionCalls(program);
}
