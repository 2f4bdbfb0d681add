import { randomUUID } from 'node:crypto';
import {
  type CatalogStores,
  isCatalogError,
  ROLES,
  type Role,
  type UserChanges,
  type UserRecord,
} from '@lifeboat/catalog';
import { type Actor, type AuditLog, SYSTEM } from './audit.js';
import type { Principal } from './auth.js';
import type { Clock } from './clock.js';
import { ApplianceError } from './errors.js';
import type { PasswordHasher } from './passwords.js';
import { can } from './permissions.js';

/** A user as the API shows it: everything but the password hash. */
export type User = Omit<UserRecord, 'passwordHash'>;

export interface NewUserInput {
  name: string;
  role: Role;
  password: string;
  restoreTags?: Record<string, string> | null;
}

export interface UserEdit {
  role?: Role;
  restoreTags?: Record<string, string> | null;
  disabled?: boolean;
}

export const USER_NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

export class UserService {
  constructor(
    private readonly catalog: CatalogStores,
    private readonly audit: AuditLog,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
  ) {}

  async list(limit: number, after?: string): Promise<User[]> {
    return (await this.catalog.users.list({ limit, after })).map(view);
  }

  async get(name: string): Promise<User> {
    return view(await this.find(this.catalog, name));
  }

  async create(actor: Actor, input: NewUserInput): Promise<User> {
    checkName(input.name);
    const restoreTags = checkRestoreTags(input.role, input.restoreTags ?? null);
    const passwordHash = await this.hasher.hash(input.password);
    return this.audit.change(actor, async (tx, note) => {
      const user = await tx.users
        .insert(
          { id: randomUUID(), name: input.name, role: input.role, passwordHash, restoreTags },
          this.now(),
        )
        .catch(rethrow(`user ${input.name} exists already: choose another name`));
      await note({
        action: 'user.create',
        target: `user/${user.name}`,
        details: { role: user.role, restoreTags },
      });
      return view(user);
    });
  }

  async update(actor: Actor, name: string, edit: UserEdit, expectedVersion?: number): Promise<User> {
    return this.audit.change(actor, async (tx, note) => {
      const user = await this.find(tx, name);
      const role = edit.role ?? user.role;
      const changes: UserChanges = { ...edit };
      if (edit.restoreTags !== undefined || edit.role !== undefined) {
        changes.restoreTags = checkRestoreTags(
          role,
          edit.restoreTags !== undefined
            ? edit.restoreTags
            : role === 'restore-operator'
              ? user.restoreTags
              : null,
        );
      }
      const demoted = user.role === 'administrator' && (role !== 'administrator' || edit.disabled === true);
      if (demoted && !user.disabled) await this.keepAnAdministrator(tx, user.name);
      const updated = await tx.users
        .update(user.id, expectedVersion, changes, this.now())
        .catch(rethrow(`user ${name}`));
      await note({ action: 'user.update', target: `user/${name}`, details: { changed: Object.keys(edit) } });
      return view(updated);
    });
  }

  /**
   * Sets a password. Users change their own with the current one; administrators set anyone's. Every login of
   * that user ends, so a stolen token dies with the old password.
   */
  async setPassword(
    principal: Principal,
    actor: Actor,
    name: string,
    password: string,
    currentPassword: string | undefined,
    expectedVersion?: number,
  ): Promise<void> {
    const own = principal.name === name;
    if (!own && !can(principal.role, 'users.write')) {
      throw new ApplianceError('FORBIDDEN', `only administrators set other users' passwords`);
    }
    const target = await this.find(this.catalog, name);
    if (own) {
      if (currentPassword === undefined) {
        throw new ApplianceError('VALIDATION_FAILED', 'changing your own password needs currentPassword too');
      }
      if (!(await this.hasher.verify(currentPassword, target.passwordHash))) {
        await this.audit.note(actor, { action: 'user.password', target: `user/${name}`, outcome: 'denied' });
        throw new ApplianceError('INVALID_CREDENTIALS', 'the current password is wrong');
      }
    }
    await this.storePassword(actor, target, password, {}, expectedVersion);
  }

  /**
   * Recovery of a forgotten password by whoever holds the data folder (`lifeboat server reset-password`, with
   * the appliance stopped): sets it, enables the user again, and ends its logins.
   */
  async resetLocally(name: string, password: string): Promise<void> {
    const target = await this.find(this.catalog, name);
    await this.storePassword(SYSTEM, target, password, { disabled: false, local: true });
  }

  private async storePassword(
    actor: Actor,
    target: UserRecord,
    password: string,
    extra: { disabled?: false; local?: true },
    expectedVersion?: number,
  ): Promise<void> {
    const passwordHash = await this.hasher.hash(password);
    const changes: UserChanges = { passwordHash };
    if (extra.disabled === false) changes.disabled = false;
    await this.audit.change(actor, async (tx, note) => {
      await tx.users
        .update(target.id, expectedVersion, changes, this.now())
        .catch(rethrow(`user ${target.name}`));
      const ended = await tx.loginSessions.revokeAllOfUser(target.id, this.now());
      await note({
        action: 'user.password',
        target: `user/${target.name}`,
        details: { loginsEnded: ended, ...(extra.local && { local: true, enabled: true }) },
      });
    });
  }

  async remove(actor: Actor, name: string, expectedVersion?: number): Promise<void> {
    await this.audit.change(actor, async (tx, note) => {
      const user = await this.find(tx, name);
      if (user.role === 'administrator' && !user.disabled) await this.keepAnAdministrator(tx, name);
      await tx.users.remove(user.id, expectedVersion).catch(rethrow(`user ${name}`));
      await note({ action: 'user.remove', target: `user/${name}`, details: { role: user.role } });
    });
  }

  /** Creates the first administrator of an empty catalog; false when there are users already. */
  async bootstrap(actor: Actor, name: string, password: string): Promise<boolean> {
    if ((await this.catalog.users.count()) > 0) return false;
    await this.create(actor, { name, role: 'administrator', password });
    return true;
  }

  count(): Promise<number> {
    return this.catalog.users.count();
  }

  private async keepAnAdministrator(tx: CatalogStores, name: string): Promise<void> {
    if ((await tx.users.countEnabled('administrator')) <= 1) {
      throw new ApplianceError(
        'LAST_ADMINISTRATOR',
        `${name} is the last enabled administrator: make another user an administrator first`,
      );
    }
  }

  private async find(stores: CatalogStores, name: string): Promise<UserRecord> {
    const user = await stores.users.get(name);
    if (!user) throw new ApplianceError('NOT_FOUND', `no user named ${name}`);
    return user;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function view(user: UserRecord): User {
  const { passwordHash: _, ...rest } = user;
  return rest;
}

function checkName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new ApplianceError(
      'VALIDATION_FAILED',
      `user name ${JSON.stringify(name)} is not valid: 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit`,
    );
  }
}

function checkRestoreTags(role: Role, tags: Record<string, string> | null): Record<string, string> | null {
  if (!ROLES.includes(role)) throw new ApplianceError('VALIDATION_FAILED', `unknown role ${role}`);
  if (tags && Object.keys(tags).length === 0) return null;
  if (tags && role !== 'restore-operator') {
    throw new ApplianceError('VALIDATION_FAILED', 'restoreTags apply to restore operators only');
  }
  return tags;
}

/** Catalog errors in the words of this service. */
function rethrow(what: string): (err: unknown) => never {
  return (err) => {
    if (isCatalogError(err)) {
      if (err.code === 'CONFLICT') throw new ApplianceError('CONFLICT', what, { cause: err });
      if (err.code === 'NOT_FOUND')
        throw new ApplianceError('NOT_FOUND', `${what} does not exist`, { cause: err });
      if (err.code === 'VERSION_MISMATCH') {
        throw new ApplianceError('PRECONDITION_FAILED', `${what} changed since you read it: read it again`, {
          cause: err,
        });
      }
    }
    throw err;
  };
}
