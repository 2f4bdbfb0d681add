import {
  alreadyExists,
  checkDocument,
  checkName,
  checkPath,
  deleteConflict,
  encodedDocument,
  iamPage,
  noSuchEntity,
  validationError,
} from './errors.js';
import { inlinePolicyOps } from './inline-policies.js';
import { iamId, iamTables, nameKey, type RoleRecord } from './records.js';
import { type QueryCall, type QueryOp, required, tagsParam, tagsXml } from './wire.js';

export function roleXml(r: RoleRecord, full = false) {
  return {
    Path: r.path,
    RoleName: r.roleName,
    RoleId: r.roleId,
    Arn: r.arn,
    CreateDate: r.createDate,
    AssumeRolePolicyDocument: encodedDocument(r.trustPolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    ...(full && r.tags.length ? { Tags: tagsXml(r.tags) } : {}),
    ...(full ? { RoleLastUsed: {} } : {}),
  };
}

export function findRole(q: QueryCall, name: string): RoleRecord {
  const r = iamTables(q.ctx).roles.get(nameKey(q.who.accountId, name));
  if (!r) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return r;
}

/** A role by ARN, in any account (AssumeRole, SimulatePrincipalPolicy). */
export function roleByArn(q: { ctx: QueryCall['ctx'] }, arn: string): RoleRecord | undefined {
  const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (!m) return undefined;
  const r = iamTables(q.ctx).roles.get(nameKey(m[1] as string, m[2] as string));
  return r && r.arn === arn ? r : undefined;
}

export const createRole: QueryOp = (q) => {
  const name = checkName(required(q, 'RoleName'), 'roleName');
  const path = checkPath(q);
  const trust = checkDocument(required(q, 'AssumeRolePolicyDocument'), 'resource');
  const max = q.p.int('MaxSessionDuration') ?? 3600;
  if (max < 3600 || max > 43200) {
    throw validationError(
      `1 validation error detected: Value '${max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200`,
    );
  }
  const t = iamTables(q.ctx).roles;
  const key = nameKey(q.who.accountId, name);
  if (t.has(key)) throw alreadyExists(`Role with name ${name} already exists.`);
  const r: RoleRecord = {
    accountId: q.who.accountId,
    roleName: name,
    roleId: iamId('AROA'),
    arn: `arn:aws:iam::${q.who.accountId}:role${path}${name}`,
    path,
    createDate: new Date(q.ctx.now()).toISOString(),
    trustPolicy: trust,
    maxSessionDuration: max,
    tags: tagsParam(q),
    policies: {},
  };
  const description = q.p.str('Description');
  if (description !== undefined) r.description = description;
  t.put(key, r);
  return { Role: roleXml(r, true) };
};

export const getRole: QueryOp = (q) => ({ Role: roleXml(findRole(q, required(q, 'RoleName')), true) });

export const listRoles: QueryOp = (q) => {
  const prefix = q.p.str('PathPrefix') ?? '/';
  const roles = [...iamTables(q.ctx).roles.values()]
    .filter((r) => r.accountId === q.who.accountId && r.path.startsWith(prefix))
    .sort((a, b) => (a.roleName.toLowerCase() < b.roleName.toLowerCase() ? -1 : 1));
  const page = iamPage(q, roles);
  return { Roles: page.items.map((r) => roleXml(r)), IsTruncated: page.IsTruncated, Marker: page.Marker };
};

export const deleteRole: QueryOp = (q) => {
  const r = findRole(q, required(q, 'RoleName'));
  const t = iamTables(q.ctx);
  if (Object.keys(r.policies).length)
    throw deleteConflict('Cannot delete entity, must delete policies first.');
  if ([...t.profiles.values()].some((p) => p.accountId === r.accountId && p.roleNames.includes(r.roleName))) {
    throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
  }
  t.roles.delete(nameKey(r.accountId, r.roleName));
  t.allowLists.delete(r.arn);
  return undefined;
};

const inline = inlinePolicyOps<RoleRecord>({
  param: 'RoleName',
  noun: 'role',
  find: findRole,
  nameOf: (r) => r.roleName,
  save: (q, r, policies) => iamTables(q.ctx).roles.put(nameKey(r.accountId, r.roleName), { ...r, policies }),
});
export const putRolePolicy = inline.put;
export const getRolePolicy = inline.get;
export const deleteRolePolicy = inline.remove;
export const listRolePolicies = inline.list;

export const updateAssumeRolePolicy: QueryOp = (q) => {
  const r = findRole(q, required(q, 'RoleName'));
  const trust = checkDocument(required(q, 'PolicyDocument'), 'resource');
  iamTables(q.ctx).roles.put(nameKey(r.accountId, r.roleName), { ...r, trustPolicy: trust });
  return undefined;
};
