import { type TSchema, Type } from '@sinclair/typebox';

/**
 * The API's shapes, as TypeBox (JSON Schema) values: fastify validates requests with them, the responses are
 * checked against them, and @fastify/swagger turns them into the OpenAPI description. One source of truth.
 */
const strict = { additionalProperties: false } as const;

export const Role = Type.Union(
  [
    Type.Literal('administrator'),
    Type.Literal('backup-operator'),
    Type.Literal('restore-operator'),
    Type.Literal('viewer'),
  ],
  { description: 'what the user may do (docs/api.md lists the permissions of each role)' },
);

export const Tags = Type.Record(
  Type.String({ minLength: 1, maxLength: 128 }),
  Type.String({ maxLength: 256 }),
  {
    maxProperties: 50,
  },
);

export const UserName = Type.String({
  pattern: '^[a-z0-9][a-z0-9._@-]{0,63}$',
  description: 'a-z 0-9 . _ @ -',
});
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Time = Type.String({ format: 'date-time' });

export const User = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    restoreTags: Type.Union([Tags, Type.Null()]),
    disabled: Type.Boolean(),
    version: Type.Integer(),
    createdAt: Time,
    updatedAt: Time,
    passwordChangedAt: Time,
  },
  strict,
);

export const NewUser = Type.Object(
  {
    name: UserName,
    role: Role,
    password: Password,
    restoreTags: Type.Optional(Type.Union([Tags, Type.Null()])),
  },
  strict,
);

export const UserEdit = Type.Object(
  {
    role: Type.Optional(Role),
    restoreTags: Type.Optional(Type.Union([Tags, Type.Null()])),
    disabled: Type.Optional(Type.Boolean()),
  },
  { ...strict, minProperties: 1 },
);

export const PasswordChange = Type.Object(
  { password: Password, currentPassword: Type.Optional(Password) },
  strict,
);

export const Login = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 64 }),
    password: Password,
    mode: Type.Optional(Type.Union([Type.Literal('token'), Type.Literal('cookie')], { default: 'token' })),
  },
  strict,
);

export const LoginResult = Type.Object(
  {
    user: Type.Object({ name: Type.String(), role: Role }, strict),
    token: Type.Optional(Type.String({ description: 'bearer token (mode token); shown once' })),
    csrfToken: Type.Optional(
      Type.String({ description: 'send as X-CSRF-Token on unsafe requests (mode cookie)' }),
    ),
    expiresAt: Time,
  },
  strict,
);

export const Logout = Type.Object({ all: Type.Optional(Type.Boolean()) }, strict);

export const WhoAmI = Type.Object(
  {
    name: Type.String(),
    role: Role,
    restoreTags: Type.Union([Tags, Type.Null()]),
    loginKind: Type.Union([Type.Literal('token'), Type.Literal('cookie')]),
    expiresAt: Time,
    permissions: Type.Array(Type.String()),
  },
  strict,
);

export const AuditEntry = Type.Object(
  {
    id: Type.Integer(),
    at: Time,
    actor: Type.Union([Type.String(), Type.Null()]),
    address: Type.Union([Type.String(), Type.Null()]),
    action: Type.String(),
    target: Type.Union([Type.String(), Type.Null()]),
    outcome: Type.Union([Type.Literal('ok'), Type.Literal('denied'), Type.Literal('failed')]),
    reason: Type.Union([Type.String(), Type.Null()]),
    details: Type.Record(Type.String(), Type.Unknown()),
  },
  strict,
);

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() }, strict);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable machine-readable code (docs/api.md)' }),
    detail: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, strict))),
  },
  strict,
);

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) }, strict);

export const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

export const IfMatch = Type.Object(
  {
    'if-match': Type.Optional(
      Type.String({ description: 'the ETag read before: answered 412 if it changed' }),
    ),
  },
  { additionalProperties: true },
);

export const IdempotencyKey = Type.Object(
  {
    'idempotency-key': Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' }),
    ),
  },
  { additionalProperties: true },
);

export const NoContent = Type.Null({ description: 'no content' });
