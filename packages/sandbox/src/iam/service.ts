import type { Service } from '../core/service.js';
import {
  addRoleToInstanceProfile,
  createInstanceProfile,
  deleteInstanceProfile,
  getInstanceProfile,
  listInstanceProfiles,
  removeRoleFromInstanceProfile,
} from './profiles.js';
import {
  createRole,
  deleteRole,
  deleteRolePolicy,
  getRole,
  getRolePolicy,
  listRolePolicies,
  listRoles,
  putRolePolicy,
  updateAssumeRolePolicy,
} from './roles.js';
import { simulatePrincipalPolicy } from './simulate.js';
import {
  createAccessKey,
  createUser,
  deleteAccessKey,
  deleteUser,
  deleteUserPolicy,
  getUser,
  getUserPolicy,
  listAccessKeys,
  listUserPolicies,
  listUsers,
  putUserPolicy,
} from './users.js';
import { createQueryService } from './wire.js';

const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** IAM (awsQuery). Global: the SigV4 scope's region (us-east-1 for AWS's clients) does not partition it. */
export function createIamService(): Service {
  return createQueryService('iam', IAM_NS, {
    CreateUser: createUser,
    GetUser: getUser,
    ListUsers: listUsers,
    DeleteUser: deleteUser,
    CreateAccessKey: createAccessKey,
    ListAccessKeys: listAccessKeys,
    DeleteAccessKey: deleteAccessKey,
    PutUserPolicy: putUserPolicy,
    GetUserPolicy: getUserPolicy,
    DeleteUserPolicy: deleteUserPolicy,
    ListUserPolicies: listUserPolicies,
    CreateRole: createRole,
    GetRole: getRole,
    ListRoles: listRoles,
    DeleteRole: deleteRole,
    UpdateAssumeRolePolicy: updateAssumeRolePolicy,
    PutRolePolicy: putRolePolicy,
    GetRolePolicy: getRolePolicy,
    DeleteRolePolicy: deleteRolePolicy,
    ListRolePolicies: listRolePolicies,
    CreateInstanceProfile: createInstanceProfile,
    AddRoleToInstanceProfile: addRoleToInstanceProfile,
    RemoveRoleFromInstanceProfile: removeRoleFromInstanceProfile,
    GetInstanceProfile: getInstanceProfile,
    ListInstanceProfiles: listInstanceProfiles,
    DeleteInstanceProfile: deleteInstanceProfile,
    SimulatePrincipalPolicy: simulatePrincipalPolicy,
  });
}
