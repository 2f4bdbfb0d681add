/** `lifeboat user list|show|add|set|passwd|remove`: the appliance's users (docs/api.md, /users). */
import { type Command, Option } from 'commander';
import { updateCredentials } from '../appliance/credentials.js';
import { ApplianceError } from '../appliance/errors.js';
import { appliancePassword } from '../appliance/prompt.js';
import { session } from '../appliance/session.js';
import { formatTags, formatTime, printTable, relativeTime } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import type { WhoAmI } from './login.js';

export const ROLES = ['administrator', 'backup-operator', 'restore-operator', 'viewer'] as const;

export interface UserJson {
  id: string;
  name: string;
  role: string;
  restoreTags: Record<string, string> | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  passwordChangedAt: string;
  version: number;
}

function collectTag(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `K=V` pairs into an object (a key given twice is refused). */
export function parseTags(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--restore-tag ${pair}: expected KEY=VALUE`);
    const key = pair.slice(0, eq);
    if (key in out) throw new UsageError(`--restore-tag ${key} given twice`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

const userPath = (name: string) => `/users/${encodeURIComponent(name)}`;

async function newPassword(name: string, file: string | undefined): Promise<string> {
  return appliancePassword({
    ...(file && { file }),
    env: 'LIFEBOAT_NEW_PASSWORD',
    fileOption: '--new-password-file',
    prompt: `New password of ${name}: `,
    confirm: true,
  });
}

function roleOption(description: string): Option {
  return new Option('--role <role>', description).choices(ROLES);
}

export function registerUsers(program: Command): void {
  const user = program.command('user').description("the appliance's users (administrators)");

  user
    .command('list')
    .description('list the users')
    .option('--limit <n>', 'at most this many')
    .action(async (o: { limit?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const limit = o.limit === undefined ? undefined : positive('--limit', o.limit);
      const users = await session().client.list<UserJson>('/users', {}, limit);
      if (opts.json) return printJson(users);
      if (users.length === 0) return print('no users');
      printTable(
        ['name', 'role', 'status', 'restore tags', 'updated'],
        users.map((u) => [
          u.name,
          u.role,
          u.disabled ? 'disabled' : 'enabled',
          formatTags(u.restoreTags),
          relativeTime(u.updatedAt),
        ]),
      );
    });

  user
    .command('show')
    .description('one user')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const u = (await session().client.get<UserJson>(userPath(name))).body;
      if (opts.json) return printJson(u);
      showUser(u);
    });

  user
    .command('add')
    .description('add a user (password from $LIFEBOAT_NEW_PASSWORD, --new-password-file, or a prompt)')
    .argument('<name>')
    .addOption(roleOption('the role').makeOptionMandatory())
    .option(
      '--restore-tag <key=value>',
      'restore operators: only instances with this tag (repeatable)',
      collectTag,
    )
    .option('--new-password-file <file>', "read the user's password from this file")
    .action(
      async (
        name: string,
        o: { role: string; restoreTag?: string[]; newPasswordFile?: string },
        cmd: Command,
      ) => {
        const opts = globals(cmd);
        const tags = o.restoreTag ? parseTags(o.restoreTag) : undefined;
        const s = session();
        const password = await newPassword(name, o.newPasswordFile);
        const body = { name, role: o.role, password, ...(tags && { restoreTags: tags }) };
        const u = (await s.client.post<UserJson>('/users', body)).body;
        if (opts.json) return printJson(u);
        print(`added user ${u.name} (${u.role})`);
      },
    );

  user
    .command('set')
    .description("change a user's role, restore tags or state (fails with exit 9 if it changed meanwhile)")
    .argument('<name>')
    .addOption(roleOption('the new role'))
    .option('--restore-tag <key=value>', 'replace the restore tags with these (repeatable)', collectTag)
    .option('--no-restore-tags', 'remove every restore tag (restores unlimited)')
    .option('--disable', 'disable the user (its logins stop working)')
    .option('--enable', 'enable the user again')
    .action(
      async (
        name: string,
        o: {
          role?: string;
          restoreTag?: string[];
          restoreTags?: boolean;
          disable?: boolean;
          enable?: boolean;
        },
        cmd: Command,
      ) => {
        const opts = globals(cmd);
        if (o.disable && o.enable) throw new UsageError('--disable and --enable: choose one');
        if (o.restoreTag && o.restoreTags === false)
          throw new UsageError('--restore-tag and --no-restore-tags: choose one');
        const changes: Record<string, unknown> = {};
        if (o.role) changes.role = o.role;
        if (o.restoreTag) changes.restoreTags = parseTags(o.restoreTag);
        if (o.restoreTags === false) changes.restoreTags = null;
        if (o.disable) changes.disabled = true;
        if (o.enable) changes.disabled = false;
        if (Object.keys(changes).length === 0)
          throw new UsageError(
            'nothing to change: pass --role, --restore-tag, --no-restore-tags, --disable or --enable',
          );
        const { client } = session();
        const current = await client.get<UserJson>(userPath(name));
        const u = (
          await client.patch<UserJson>(userPath(name), changes, {
            headers: ifMatch(current.etag, current.body.version),
          })
        ).body;
        if (opts.json) return printJson(u);
        print(`changed user ${u.name}`);
        showUser(u);
      },
    );

  user
    .command('passwd')
    .description(
      'change your password (current one from $LIFEBOAT_LOGIN_PASSWORD, --login-password-file or a prompt), ' +
        "or, as an administrator, another user's",
    )
    .argument('[name]', 'the user (default: you)')
    .option('--login-password-file <file>', 'read your current password from this file')
    .option('--new-password-file <file>', 'read the new password from this file')
    .action(
      async (
        name: string | undefined,
        o: { loginPasswordFile?: string; newPasswordFile?: string },
        cmd: Command,
      ) => {
        const opts = globals(cmd);
        const s = session();
        const me = (await s.client.get<WhoAmI>('/auth/whoami')).body;
        const target = name ?? me.name;
        const own = target === me.name;
        const currentPassword = own
          ? await appliancePassword({
              ...(o.loginPasswordFile && { file: o.loginPasswordFile }),
              env: 'LIFEBOAT_LOGIN_PASSWORD',
              fileOption: '--login-password-file',
              prompt: `Current password of ${target}: `,
            })
          : undefined;
        const password = await newPassword(target, o.newPasswordFile);
        try {
          await s.client.put(`${userPath(target)}/password`, {
            password,
            ...(currentPassword !== undefined && { currentPassword }),
          });
        } catch (err) {
          // A wrong current password is not a reason to log in again.
          if (own && err instanceof ApplianceError && err.code === 'INVALID_CREDENTIALS') {
            throw new ApplianceError(`the current password of ${target} is wrong`, {
              code: err.code,
              exitCode: err.exitCode,
              ...(err.status !== undefined && { status: err.status }),
            });
          }
          throw err;
        }
        if (own && s.tokenSource === 'saved') {
          // The appliance revoked every login of the user, this one included.
          updateCredentials((c) => {
            const entry = c.servers[s.server];
            if (entry) {
              delete entry.token;
              delete entry.expiresAt;
            }
          });
        }
        if (opts.json) return printJson({ name: target, changed: true, loginsRevoked: true });
        print(
          own
            ? `password changed: every login of ${target} was revoked, this one too; run \`lifeboat login\` again`
            : `password of ${target} changed: every login of ${target} was revoked`,
        );
      },
    );

  user
    .command('remove')
    .description('remove a user (and end its logins)')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const { client } = session();
      const current = await client.get<UserJson>(userPath(name));
      await client.delete(userPath(name), { headers: ifMatch(current.etag, current.body.version) });
      if (opts.json) return printJson({ name, removed: true });
      print(`removed user ${name}`);
    });
}

function ifMatch(etag: string | undefined, version: number | undefined): Record<string, string> {
  if (etag) return { 'if-match': etag };
  if (typeof version === 'number') return { 'if-match': `"${version}"` };
  return {};
}

function showUser(u: UserJson): void {
  const rows: Array<[string, string]> = [
    ['name', u.name],
    ['role', u.role],
    ['status', u.disabled ? 'disabled' : 'enabled'],
    ['restore tags', u.restoreTags ? formatTags(u.restoreTags) : '- (unlimited)'],
    ['created', `${formatTime(u.createdAt)} UTC`],
    ['updated', `${formatTime(u.updatedAt)} UTC (${relativeTime(u.updatedAt)})`],
    ['password changed', `${formatTime(u.passwordChangedAt)} UTC`],
    ['version', String(u.version)],
  ];
  for (const [k, v] of rows) print(`${`${k}:`.padEnd(18)}${v}`);
}

export function positive(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${option} ${value}: expected a positive whole number`);
  return n;
}
