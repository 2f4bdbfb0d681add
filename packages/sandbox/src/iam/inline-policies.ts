import { checkDocument, checkName, encodedDocument, iamPage, noSuchEntity } from './errors.js';
import { type QueryCall, type QueryOp, required } from './wire.js';

interface HasInlinePolicies {
  policies: Record<string, string>;
}

/** How one kind of IAM identity (user, role) is found by name and saved with new inline policies. */
export interface InlinePolicyOwner<T extends HasInlinePolicies> {
  /** The request parameter and answer member naming the identity: UserName or RoleName. */
  param: 'UserName' | 'RoleName';
  /** In IAM's NoSuchEntity message: "The user policy with name ...". */
  noun: 'user' | 'role';
  find(q: QueryCall, name: string): T;
  nameOf(rec: T): string;
  save(q: QueryCall, rec: T, policies: Record<string, string>): void;
}

/** Put/Get/Delete/List…Policy: the same four operations on the inline policies of users and of roles. */
export function inlinePolicyOps<T extends HasInlinePolicies>(owner: InlinePolicyOwner<T>) {
  const find = (q: QueryCall) => owner.find(q, required(q, owner.param));
  const missing = (name: string) =>
    noSuchEntity(`The ${owner.noun} policy with name ${name} cannot be found.`);
  const put: QueryOp = (q) => {
    const rec = find(q);
    const name = checkName(required(q, 'PolicyName'), 'policyName', 128);
    const doc = checkDocument(required(q, 'PolicyDocument'), 'identity');
    owner.save(q, rec, { ...rec.policies, [name]: doc });
    return undefined;
  };
  const get: QueryOp = (q) => {
    const rec = find(q);
    const name = required(q, 'PolicyName');
    const doc = rec.policies[name];
    if (doc === undefined) throw missing(name);
    return { [owner.param]: owner.nameOf(rec), PolicyName: name, PolicyDocument: encodedDocument(doc) };
  };
  const remove: QueryOp = (q) => {
    const rec = find(q);
    const name = required(q, 'PolicyName');
    if (rec.policies[name] === undefined) throw missing(name);
    const { [name]: _gone, ...rest } = rec.policies;
    owner.save(q, rec, rest);
    return undefined;
  };
  const list: QueryOp = (q) => {
    const page = iamPage(q, Object.keys(find(q).policies).sort());
    return { PolicyNames: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
  };
  return { put, get, remove, list };
}
