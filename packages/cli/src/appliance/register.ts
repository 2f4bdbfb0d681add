/** The appliance's client commands (issue 15): login, logout, whoami, user, audit. */
import type { Command } from 'commander';
import { registerAccounts } from '../commands/accounts.js';
import { registerAudit } from '../commands/audit.js';
import { registerInstances } from '../commands/instances.js';
import { registerLogin } from '../commands/login.js';
import { registerUsers } from '../commands/users.js';

export function registerApplianceClient(program: Command): void {
  registerLogin(program);
  registerUsers(program);
  registerAudit(program);
  registerAccounts(program);
  registerInstances(program);
}
