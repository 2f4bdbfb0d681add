import type { CatalogStores } from '../types.js';
import { accountStore } from './accounts.js';
import { auditStore } from './audit.js';
import { awsCallStore } from './aws-calls.js';
import { eventStore } from './events.js';
import { idempotencyStore } from './idempotency.js';
import { inventoryStore } from './inventory.js';
import { loginSessionStore } from './login-sessions.js';
import { restorePointStore } from './points.js';
import { policyStore } from './policies.js';
import { sessionStore } from './sessions.js';
import type { Db } from './shared.js';
import { taskStore } from './tasks.js';
import { userStore } from './users.js';

/** One set of store implementations over any executor: the catalog's own, or a transaction's. */
export function storesOver(db: Db): CatalogStores {
  return {
    users: userStore(db),
    loginSessions: loginSessionStore(db),
    audit: auditStore(db),
    events: eventStore(db),
    idempotency: idempotencyStore(db),
    accounts: accountStore(db),
    inventory: inventoryStore(db),
    sessions: sessionStore(db),
    tasks: taskStore(db),
    policies: policyStore(db),
    points: restorePointStore(db),
    awsCalls: awsCallStore(db),
  };
}
