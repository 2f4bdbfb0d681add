import type { Role } from '@lifeboat/catalog';

/**
 * What a route or an event topic needs. Every API route declares exactly one; `self` is any signed-in user acting
 * on their own login. Permissions of later features are listed now so that the roles' matrix is decided in one
 * place and published as it will grow.
 */
export const PERMISSIONS = [
  'self',
  'users.read',
  'users.write',
  'audit.read',
  'accounts.read',
  'accounts.write',
  'inventory.read',
  'policies.read',
  'policies.write',
  'sessions.read',
  'sessions.write',
  'repositories.read',
  'repositories.write',
  'points.read',
  'points.write',
  'restore.run',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const READ: Permission[] = [
  'self',
  'accounts.read',
  'inventory.read',
  'policies.read',
  'sessions.read',
  'repositories.read',
  'points.read',
];

/** The roles of the brief: administrators do all; operators protect; restore operators restore; viewers read. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  administrator: PERMISSIONS,
  'backup-operator': [
    ...READ,
    'accounts.write',
    'policies.write',
    'sessions.write',
    'repositories.write',
    'points.write',
  ],
  'restore-operator': ['self', 'inventory.read', 'points.read', 'sessions.read', 'restore.run'],
  viewer: READ,
};

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}
