import type { SandboxContext } from '../core/service.js';
import {
  alreadyExists,
  checkName,
  checkPath,
  deleteConflict,
  iamPage,
  limitExceeded,
  noSuchEntity,
} from './errors.js';
import { type InstanceProfileRecord, iamId, iamTables, nameKey } from './records.js';
import { findRole, roleXml } from './roles.js';
import { type QueryCall, type QueryOp, required, tagsParam, tagsXml } from './wire.js';

/** An instance profile holds at most one role, as in AWS. */
const ROLES_PER_PROFILE = 1;

function profileXml(q: QueryCall, p: InstanceProfileRecord) {
  const roles = iamTables(q.ctx).roles;
  return {
    Path: p.path,
    InstanceProfileName: p.name,
    InstanceProfileId: p.id,
    Arn: p.arn,
    CreateDate: p.createDate,
    Roles: p.roleNames.flatMap((n) => {
      const r = roles.get(nameKey(p.accountId, n));
      return r ? [roleXml(r)] : [];
    }),
    ...(p.tags.length ? { Tags: tagsXml(p.tags) } : {}),
  };
}

function findProfile(q: QueryCall, name: string): InstanceProfileRecord {
  const p = iamTables(q.ctx).profiles.get(nameKey(q.who.accountId, name));
  if (!p) throw noSuchEntity(`Instance Profile ${name} cannot be found.`);
  return p;
}

/** For EC2's IamInstanceProfile: a profile of the account by name or ARN, when IAM has it. */
export function instanceProfileOf(
  ctx: SandboxContext,
  accountId: string,
  ref: { arn?: string; name?: string },
): InstanceProfileRecord | undefined {
  const profiles = iamTables(ctx).profiles;
  if (ref.name) return profiles.get(nameKey(accountId, ref.name));
  return [...profiles.values()].find((p) => p.arn === ref.arn);
}

export const createInstanceProfile: QueryOp = (q) => {
  const name = checkName(required(q, 'InstanceProfileName'), 'instanceProfileName', 128);
  const path = checkPath(q);
  const t = iamTables(q.ctx).profiles;
  const key = nameKey(q.who.accountId, name);
  if (t.has(key)) throw alreadyExists(`Instance Profile ${name} already exists.`);
  const p: InstanceProfileRecord = {
    accountId: q.who.accountId,
    name,
    id: iamId('AIPA'),
    arn: `arn:aws:iam::${q.who.accountId}:instance-profile${path}${name}`,
    path,
    createDate: new Date(q.ctx.now()).toISOString(),
    roleNames: [],
    tags: tagsParam(q),
  };
  t.put(key, p);
  return { InstanceProfile: profileXml(q, p) };
};

export const addRoleToInstanceProfile: QueryOp = (q) => {
  const p = findProfile(q, required(q, 'InstanceProfileName'));
  const r = findRole(q, required(q, 'RoleName'));
  if (p.roleNames.length >= ROLES_PER_PROFILE) {
    throw limitExceeded(`Cannot exceed quota for InstanceSessionsPerInstanceProfile: ${ROLES_PER_PROFILE}`);
  }
  iamTables(q.ctx).profiles.put(nameKey(p.accountId, p.name), {
    ...p,
    roleNames: [...p.roleNames, r.roleName],
  });
  return undefined;
};

export const removeRoleFromInstanceProfile: QueryOp = (q) => {
  const p = findProfile(q, required(q, 'InstanceProfileName'));
  const role = required(q, 'RoleName');
  if (!p.roleNames.includes(role)) throw noSuchEntity(`The role with name ${role} cannot be found.`);
  const roleNames = p.roleNames.filter((n) => n !== role);
  iamTables(q.ctx).profiles.put(nameKey(p.accountId, p.name), { ...p, roleNames });
  return undefined;
};

export const getInstanceProfile: QueryOp = (q) => ({
  InstanceProfile: profileXml(q, findProfile(q, required(q, 'InstanceProfileName'))),
});

export const listInstanceProfiles: QueryOp = (q) => {
  const prefix = q.p.str('PathPrefix') ?? '/';
  const all = [...iamTables(q.ctx).profiles.values()]
    .filter((p) => p.accountId === q.who.accountId && p.path.startsWith(prefix))
    .sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
  const page = iamPage(q, all);
  return {
    InstanceProfiles: page.items.map((p) => profileXml(q, p)),
    IsTruncated: page.IsTruncated,
    Marker: page.Marker,
  };
};

export const deleteInstanceProfile: QueryOp = (q) => {
  const p = findProfile(q, required(q, 'InstanceProfileName'));
  if (p.roleNames.length)
    throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
  iamTables(q.ctx).profiles.delete(nameKey(p.accountId, p.name));
  return undefined;
};
