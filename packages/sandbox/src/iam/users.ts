import {
  alreadyExists,
  checkName,
  checkPath,
  deleteConflict,
  iamPage,
  limitExceeded,
  noSuchEntity,
  validationError,
} from './errors.js';
import { inlinePolicyOps } from './inline-policies.js';
import { iamId, iamTables, nameKey, newSecret, type UserRecord } from './records.js';
import { type QueryCall, type QueryOp, required, tagsParam, tagsXml } from './wire.js';

const MAX_KEYS_PER_USER = 2;

function userXml(u: UserRecord, withTags = false) {
  return {
    Path: u.path,
    UserName: u.userName,
    UserId: u.userId,
    Arn: u.arn,
    CreateDate: u.createDate,
    ...(withTags && u.tags.length ? { Tags: tagsXml(u.tags) } : {}),
  };
}

export function findUser(q: QueryCall, name: string): UserRecord {
  const u = iamTables(q.ctx).users.get(nameKey(q.who.accountId, name));
  if (!u) throw noSuchEntity(`The user with name ${name} cannot be found.`);
  return u;
}

/** UserName, or the calling user itself when it is left out (as IAM does for user credentials). */
function userParam(q: QueryCall): UserRecord {
  const name = q.p.str('UserName');
  if (name) return findUser(q, name);
  if (q.who.kind !== 'user') {
    throw validationError('Must specify userName when calling with non-User credentials');
  }
  return findUser(q, q.who.arn.split('/').pop() as string);
}

export const createUser: QueryOp = (q) => {
  const name = checkName(required(q, 'UserName'), 'userName');
  const path = checkPath(q);
  const t = iamTables(q.ctx).users;
  const key = nameKey(q.who.accountId, name);
  if (t.has(key)) throw alreadyExists(`User with name ${name} already exists.`);
  const u: UserRecord = {
    accountId: q.who.accountId,
    userName: name,
    userId: iamId('AIDA'),
    arn: `arn:aws:iam::${q.who.accountId}:user${path}${name}`,
    path,
    createDate: new Date(q.ctx.now()).toISOString(),
    tags: tagsParam(q),
    policies: {},
  };
  t.put(key, u);
  return { User: userXml(u, true) };
};

export const getUser: QueryOp = (q) => {
  if (!q.p.str('UserName') && (!q.who.kind || q.who.kind === 'root')) {
    const root = {
      Path: '/',
      UserId: q.who.accountId,
      Arn: q.who.arn,
      CreateDate: new Date(0).toISOString(),
    };
    return { User: root };
  }
  return { User: userXml(userParam(q), true) };
};

export const listUsers: QueryOp = (q) => {
  const prefix = q.p.str('PathPrefix') ?? '/';
  const users = [...iamTables(q.ctx).users.values()]
    .filter((u) => u.accountId === q.who.accountId && u.path.startsWith(prefix))
    .sort((a, b) => (a.userName.toLowerCase() < b.userName.toLowerCase() ? -1 : 1));
  const page = iamPage(q, users);
  return { Users: page.items.map((u) => userXml(u)), IsTruncated: page.IsTruncated, Marker: page.Marker };
};

export const deleteUser: QueryOp = (q) => {
  const u = findUser(q, required(q, 'UserName'));
  const t = iamTables(q.ctx);
  if ([...t.accessKeys.values()].some((k) => k.accountId === u.accountId && k.userName === u.userName)) {
    throw deleteConflict('Cannot delete entity, must delete access keys first.');
  }
  if (Object.keys(u.policies).length)
    throw deleteConflict('Cannot delete entity, must delete policies first.');
  t.users.delete(nameKey(u.accountId, u.userName));
  t.allowLists.delete(u.arn);
  return undefined;
};

export const createAccessKey: QueryOp = (q) => {
  const u = userParam(q);
  const t = iamTables(q.ctx).accessKeys;
  const owned = [...t.values()].filter((k) => k.accountId === u.accountId && k.userName === u.userName);
  if (owned.length >= MAX_KEYS_PER_USER) {
    throw limitExceeded(`Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`);
  }
  const key = {
    accessKeyId: iamId('AKIA', 16),
    secretAccessKey: newSecret(),
    accountId: u.accountId,
    userName: u.userName,
    status: 'Active' as const,
    createDate: new Date(q.ctx.now()).toISOString(),
  };
  t.put(key.accessKeyId, key);
  return {
    AccessKey: {
      UserName: key.userName,
      AccessKeyId: key.accessKeyId,
      Status: key.status,
      SecretAccessKey: key.secretAccessKey,
      CreateDate: key.createDate,
    },
  };
};

export const listAccessKeys: QueryOp = (q) => {
  const u = userParam(q);
  const keys = [...iamTables(q.ctx).accessKeys.values()].filter(
    (k) => k.accountId === u.accountId && k.userName === u.userName,
  );
  const page = iamPage(q, keys);
  return {
    AccessKeyMetadata: page.items.map((k) => ({
      UserName: k.userName,
      AccessKeyId: k.accessKeyId,
      Status: k.status,
      CreateDate: k.createDate,
    })),
    IsTruncated: page.IsTruncated,
    Marker: page.Marker,
  };
};

export const deleteAccessKey: QueryOp = (q) => {
  const u = userParam(q);
  const id = required(q, 'AccessKeyId');
  const t = iamTables(q.ctx).accessKeys;
  const k = t.get(id);
  if (!k || k.accountId !== u.accountId || k.userName !== u.userName) {
    throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
  }
  t.delete(id);
  return undefined;
};

const inline = inlinePolicyOps<UserRecord>({
  param: 'UserName',
  noun: 'user',
  find: findUser,
  nameOf: (u) => u.userName,
  save: (q, u, policies) => iamTables(q.ctx).users.put(nameKey(u.accountId, u.userName), { ...u, policies }),
});
export const putUserPolicy = inline.put;
export const getUserPolicy = inline.get;
export const deleteUserPolicy = inline.remove;
export const listUserPolicies = inline.list;
