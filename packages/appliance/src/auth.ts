import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Catalog, LoginKind, Role, UserRecord } from '@lifeboat/catalog';
import type { Actor, AuditLog } from './audit.js';
import type { Clock } from './clock.js';
import { ApplianceError } from './errors.js';
import type { PasswordHasher } from './passwords.js';
import type { LoginThrottle } from './throttle.js';

/** A signed-in user as the API sees them on each request. */
export interface Principal {
  userId: string;
  name: string;
  role: Role;
  restoreTags: Record<string, string> | null;
  loginId: string;
  loginKind: LoginKind;
  expiresAt: string;
  /** Cookie logins: the SHA-256 of the CSRF token that unsafe requests must carry. */
  csrfHash: string | null;
  address: string | null;
}

export interface LoginResult {
  user: { name: string; role: Role };
  /** The bearer token or the cookie value: shown once, stored only as a hash. */
  secret: string;
  csrfToken: string | null;
  expiresAt: string;
}

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/** A hash to verify against when the user does not exist, so that a login takes as long either way. */
let dummyHash: Promise<string> | undefined;

export class AuthService {
  constructor(
    private readonly catalog: Catalog,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly loginTtlMs: number,
  ) {}

  async login(name: string, password: string, kind: LoginKind, address: string | null): Promise<LoginResult> {
    const now = this.clock.now();
    const actor: Actor = { userId: null, name, address };
    try {
      this.throttle.check(name, address ?? '', now.getTime());
    } catch (err) {
      await this.audit.note(actor, {
        action: 'auth.login',
        outcome: 'denied',
        details: { why: 'throttled' },
      });
      throw err;
    }
    const user = await this.catalog.users.get(name);
    dummyHash ??= this.hasher.hash(randomBytes(16).toString('hex'));
    const ok = await this.hasher.verify(password, user?.passwordHash ?? (await dummyHash));
    if (!user || !ok || user.disabled) {
      this.throttle.fail(name, address ?? '', now.getTime());
      await this.audit.note(actor, {
        action: 'auth.login',
        outcome: 'denied',
        details: { why: user?.disabled && ok ? 'disabled' : 'wrong user or password' },
      });
      throw new ApplianceError('INVALID_CREDENTIALS', 'wrong user name or password');
    }
    this.throttle.succeed(name, address ?? '');
    const secret = `lb_${randomBytes(32).toString('base64url')}`;
    const csrfToken = kind === 'cookie' ? randomBytes(24).toString('base64url') : null;
    const expiresAt = new Date(now.getTime() + this.loginTtlMs).toISOString();
    await this.audit.change({ ...actor, userId: user.id }, async (tx, note) => {
      await tx.loginSessions.insert({
        id: randomUUID(),
        userId: user.id,
        kind,
        tokenHash: sha256(secret),
        csrfHash: csrfToken ? sha256(csrfToken) : null,
        address,
        createdAt: now.toISOString(),
        expiresAt,
      });
      await note({ action: 'auth.login', target: `user/${user.name}`, details: { kind, expiresAt } });
    });
    return { user: { name: user.name, role: user.role }, secret, csrfToken, expiresAt };
  }

  /** The principal behind a bearer token or cookie value; UNAUTHENTICATED / SESSION_EXPIRED otherwise. */
  async authenticate(secret: string, address: string | null): Promise<Principal> {
    const login = await this.catalog.loginSessions.findByTokenHash(sha256(secret));
    if (!login) throw new ApplianceError('UNAUTHENTICATED', 'not signed in: log in first (lifeboat login)');
    if (login.revokedAt) {
      throw new ApplianceError(
        'SESSION_EXPIRED',
        'this login was ended (logout or password change): log in again',
      );
    }
    if (login.expiresAt <= this.clock.now().toISOString()) {
      throw new ApplianceError('SESSION_EXPIRED', 'this login expired: log in again');
    }
    const user = await this.catalog.users.getById(login.userId);
    if (!user || user.disabled) {
      throw new ApplianceError(
        'SESSION_EXPIRED',
        'this user was disabled or removed: log in as another user',
      );
    }
    return principalOf(user, login.id, login.kind, login.expiresAt, login.csrfHash, address);
  }

  /** Ends this login, or every login of the user. */
  async logout(principal: Principal, all: boolean): Promise<number> {
    const at = this.clock.now().toISOString();
    return this.audit.change(actorOf(principal), async (tx, note) => {
      let ended = 1;
      if (all) ended = await tx.loginSessions.revokeAllOfUser(principal.userId, at);
      else await tx.loginSessions.revoke(principal.loginId, at);
      await note({ action: 'auth.logout', target: `user/${principal.name}`, details: { all, ended } });
      return ended;
    });
  }

  /** Drops logins that ended more than a day ago (called now and then by the appliance). */
  async sweep(): Promise<number> {
    return this.catalog.loginSessions.deleteEnded(
      new Date(this.clock.now().getTime() - 86_400_000).toISOString(),
    );
  }
}

export function actorOf(principal: Principal): Actor {
  return { userId: principal.userId, name: principal.name, address: principal.address };
}

function principalOf(
  user: UserRecord,
  loginId: string,
  loginKind: LoginKind,
  expiresAt: string,
  csrfHash: string | null,
  address: string | null,
): Principal {
  return {
    userId: user.id,
    name: user.name,
    role: user.role,
    restoreTags: user.restoreTags,
    loginId,
    loginKind,
    expiresAt,
    csrfHash,
    address,
  };
}
