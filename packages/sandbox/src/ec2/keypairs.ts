import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import { type Call, type Handler, iso, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import type { KeyPairRecord } from './records.js';
import { tagSet, tagSpecs } from './tags.js';

function colonHex(buf: Buffer): string {
  return buf.toString('hex').match(/../g)!.join(':');
}

function checkUnique(c: Call, name: string): void {
  if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter KeyName');
  if (mine(c, tables(c).keyPairs).some((k) => k.keyName === name)) {
    throw new AwsError('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
  }
}

function store(c: Call, rec: Omit<KeyPairRecord, 'keyPairId' | 'ownerId' | 'region' | 'createTime'>) {
  const full: KeyPairRecord = {
    ...rec,
    keyPairId: c.ctx.newId('key'),
    ownerId: c.accountId,
    region: c.region,
    createTime: iso(c.now),
  };
  tables(c).keyPairs.put(full.keyPairId, full);
  return full;
}

/** A real key pair, so that what a client saves is a usable private key. */
export const createKeyPair: Handler = (c) => {
  const name = c.p.req('KeyName');
  checkUnique(c, name);
  const tags = tagSpecs(c.p, ['key-pair']).get('key-pair') ?? [];
  const type = c.p.str('KeyType') ?? 'rsa';
  if (type !== 'rsa' && type !== 'ed25519')
    throw new AwsError('InvalidParameterValue', `Invalid value '${type}' for KeyType`);
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const pem =
    type === 'rsa'
      ? (pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string)
      : (pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  // AWS fingerprints created RSA keys with SHA-1 of the private key, ed25519 keys with SHA-256 of the public key.
  const fingerprint =
    type === 'rsa'
      ? colonHex(createHash('sha1').update(der).digest())
      : createHash('sha256')
          .update(pair.publicKey.export({ type: 'spki', format: 'der' }))
          .digest('base64');
  const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const rec = store(c, { keyName: name, keyType: type, fingerprint, publicKey, tags });
  return {
    keyName: name,
    keyFingerprint: fingerprint,
    keyMaterial: pem,
    keyPairId: rec.keyPairId,
    tagSet: tagSet(tags),
  };
};

/** PublicKeyMaterial arrives base64 (a blob); inside it is an OpenSSH public key line. */
export const importKeyPair: Handler = (c) => {
  const name = c.p.req('KeyName');
  checkUnique(c, name);
  const material = Buffer.from(c.p.req('PublicKeyMaterial'), 'base64').toString('utf8').trim();
  const m = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) ([A-Za-z0-9+/=]+)/.exec(material);
  if (!m) throw new AwsError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  const tags = tagSpecs(c.p, ['key-pair']).get('key-pair') ?? [];
  const type = m[1] === 'ssh-ed25519' ? 'ed25519' : 'rsa';
  const blob = Buffer.from(m[2]!, 'base64');
  const fingerprint =
    type === 'rsa'
      ? colonHex(createHash('md5').update(blob).digest())
      : createHash('sha256').update(blob).digest('base64');
  const rec = store(c, { keyName: name, keyType: type, fingerprint, publicKey: material, tags });
  return { keyName: name, keyFingerprint: fingerprint, keyPairId: rec.keyPairId, tagSet: tagSet(tags) };
};

export function findKeyPair(c: Call, name: string): KeyPairRecord {
  const k = mine(c, tables(c).keyPairs).find((x) => x.keyName === name);
  if (!k) throw new AwsError('InvalidKeyPair.NotFound', `The key pair '${name}' does not exist`);
  return k;
}

export const describeKeyPairs: Handler = (c) => {
  const names = c.p.list('KeyName');
  const ids = c.p.list('KeyPairId');
  for (const n of names) findKeyPair(c, n);
  for (const id of ids) {
    const k = tables(c).keyPairs.get(id);
    if (!k || k.ownerId !== c.accountId || k.region !== c.region) {
      throw new AwsError('InvalidKeyPair.NotFound', `The key pair '${id}' does not exist`);
    }
  }
  const rows = mine(c, tables(c).keyPairs).filter(
    (k) => (names.length === 0 && ids.length === 0) || names.includes(k.keyName) || ids.includes(k.keyPairId),
  );
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'key-name': (k) => k.keyName,
      'key-pair-id': (k) => k.keyPairId,
      fingerprint: (k) => k.fingerprint,
      'key-type': (k) => k.keyType,
    },
    (k) => k.tags,
  );
  const withKey = c.p.bool('IncludePublicKey');
  return {
    keySet: filtered.map((k) => ({
      keyPairId: k.keyPairId,
      keyFingerprint: k.fingerprint,
      keyName: k.keyName,
      keyType: k.keyType,
      tagSet: tagSet(k.tags),
      publicKey: withKey ? k.publicKey : undefined,
      createTime: k.createTime,
    })),
  };
};

/** Deleting a key pair that does not exist succeeds, as on AWS. */
export const deleteKeyPair: Handler = (c) => {
  const name = c.p.str('KeyName');
  const id = c.p.str('KeyPairId');
  if (!name && !id)
    throw new AwsError('MissingParameter', 'The request must contain the parameter KeyName or KeyPairId');
  const k = mine(c, tables(c).keyPairs).find((x) => x.keyName === name || x.keyPairId === id);
  if (k) tables(c).keyPairs.delete(k.keyPairId);
  return { return: true, keyPairId: k?.keyPairId };
};
