import type { Principal } from '../core/model.js';
import { type Condition, conditionsHold } from './conditions.js';

/**
 * IAM policy documents (identity policies, role trust policies, KMS key policies) and their evaluation: an
 * explicit Deny wins, then any Allow, else the implicit deny. Actions match with * and ? wildcards, case-
 * insensitively, as IAM matches them.
 */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  Principal?: PrincipalSpec;
  NotPrincipal?: PrincipalSpec;
  Condition?: Condition;
}

/** "*" or {AWS: [...], Service: [...], Federated: [...]}. */
export type PrincipalSpec = '*' | Record<string, string[]>;

export interface PolicyDocument {
  Version?: string;
  Statement: Statement[];
}

export type PolicyKind = 'identity' | 'resource';

/** A document that IAM or KMS would refuse; each service answers it with its own error code. */
export class PolicyError extends Error {}

const VERSIONS = ['2012-10-17', '2008-10-17'];

export function parsePolicy(text: string, kind: PolicyKind): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PolicyError('Syntax errors in policy.');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new PolicyError('Syntax errors in policy.');
  const doc = raw as { Version?: unknown; Statement?: unknown };
  if (doc.Version !== undefined && !VERSIONS.includes(String(doc.Version))) {
    throw new PolicyError('The policy must contain a valid version string');
  }
  const list = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  if (list.length === 0) throw new PolicyError('Policy document must contain at least one Statement.');
  const out: PolicyDocument = { Statement: list.map((s) => statementOf(s, kind)) };
  if (doc.Version !== undefined) out.Version = String(doc.Version);
  return out;
}

function strings(v: unknown, what: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new PolicyError(`${what} must be a string or a list of strings.`);
}

function principalOf(v: unknown): PrincipalSpec {
  if (v === '*') return '*';
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new PolicyError('Invalid principal in policy.');
  const out: Record<string, string[]> = {};
  for (const [k, x] of Object.entries(v)) out[k] = strings(x, 'Principal');
  return out;
}

function statementOf(raw: unknown, kind: PolicyKind): Statement {
  if (!raw || typeof raw !== 'object') throw new PolicyError('Syntax errors in policy.');
  const s = raw as Record<string, unknown>;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny')
    throw new PolicyError('Invalid effect: must be Allow or Deny.');
  if (s.Action === undefined && s.NotAction === undefined) {
    throw new PolicyError('Policy statement must contain actions.');
  }
  const hasPrincipal = s.Principal !== undefined || s.NotPrincipal !== undefined;
  if (kind === 'identity' && hasPrincipal)
    throw new PolicyError('Policy document should not specify a principal.');
  if (kind === 'resource' && !hasPrincipal)
    throw new PolicyError('Policy statement must contain a principal.');
  const st: Statement = { Effect: s.Effect };
  if (typeof s.Sid === 'string') st.Sid = s.Sid;
  if (s.Action !== undefined) st.Action = strings(s.Action, 'Action');
  if (s.NotAction !== undefined) st.NotAction = strings(s.NotAction, 'NotAction');
  if (s.Resource !== undefined) st.Resource = strings(s.Resource, 'Resource');
  if (s.NotResource !== undefined) st.NotResource = strings(s.NotResource, 'NotResource');
  if (s.Principal !== undefined) st.Principal = principalOf(s.Principal);
  if (s.NotPrincipal !== undefined) st.NotPrincipal = principalOf(s.NotPrincipal);
  if (s.Condition !== undefined) st.Condition = s.Condition as Condition;
  return st;
}

const patterns = new Map<string, RegExp>();

/** IAM's wildcard match: * any run of characters, ? one character; case-insensitive for actions. */
export function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = patterns.get(key);
  if (!re) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
    if (patterns.size > 4096) patterns.clear();
    patterns.set(key, re);
  }
  return re.test(value);
}

/** Whether a principal named in a resource or trust policy covers the caller. */
export function principalMatches(spec: PrincipalSpec, who: Principal): boolean {
  if (spec === '*') return true;
  return (spec.AWS ?? []).some((p) => awsPrincipalMatches(p, who));
}

function awsPrincipalMatches(p: string, who: Principal): boolean {
  if (p === '*') return true;
  // An account (id or root ARN) stands for every principal of that account; the account decides through IAM.
  if (p === who.accountId || p === `arn:aws:iam::${who.accountId}:root`) return true;
  // A role ARN covers the role's sessions.
  return p === who.arn || (who.roleArn !== undefined && p === who.roleArn);
}

export interface Request {
  action: string;
  /** The resource's ARN when the caller knows it; statements' Resource is not checked without one. */
  resource?: string;
  /** For resource policies: who asks. */
  principal?: Principal;
  context: Record<string, string | string[]>;
}

export type Decision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface Matched {
  source: string;
  statement: Statement;
}

export interface Evaluation {
  decision: Decision;
  matched: Matched[];
  /** Which kind of policy refused: absent for identity-based (and resource) policies. */
  policyType?: 'session';
}

export function statementApplies(s: Statement, r: Request): boolean {
  if (s.Action && !s.Action.some((a) => wildcard(a, r.action, true))) return false;
  if (s.NotAction?.some((a) => wildcard(a, r.action, true))) return false;
  if (r.resource !== undefined) {
    if (s.Resource && !s.Resource.some((x) => wildcard(x, r.resource as string, false))) return false;
    if (s.NotResource?.some((x) => wildcard(x, r.resource as string, false))) return false;
  }
  if (s.Principal !== undefined && (!r.principal || !principalMatches(s.Principal, r.principal)))
    return false;
  if (s.NotPrincipal !== undefined && (!r.principal || principalMatches(s.NotPrincipal, r.principal))) {
    return false;
  }
  return conditionsHold(s.Condition, r.context);
}

/** Evaluates named documents together: any matching Deny wins, then any matching Allow. */
export function evaluate(docs: Array<{ source: string; doc: PolicyDocument }>, r: Request): Evaluation {
  const matched: Matched[] = [];
  for (const { source, doc } of docs) {
    for (const statement of doc.Statement)
      if (statementApplies(statement, r)) matched.push({ source, statement });
  }
  const denies = matched.filter((m) => m.statement.Effect === 'Deny');
  if (denies.length) return { decision: 'explicitDeny', matched: denies };
  return matched.length ? { decision: 'allowed', matched } : { decision: 'implicitDeny', matched: [] };
}

const parsed = new Map<string, PolicyDocument>();

/** Parses a stored (already validated) document once; documents are immutable strings. */
export function cachedPolicy(text: string, kind: PolicyKind): PolicyDocument {
  const key = `${kind}\n${text}`;
  let doc = parsed.get(key);
  if (!doc) {
    doc = parsePolicy(text, kind);
    if (parsed.size > 1024) parsed.clear();
    parsed.set(key, doc);
  }
  return doc;
}
