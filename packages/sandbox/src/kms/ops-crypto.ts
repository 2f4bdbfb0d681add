import { randomBytes } from 'node:crypto';
import { requireKeyAccess } from './access.js';
import { blob, int, type KmsCall, type KmsOp, reqStr, str, stringMap, validation } from './call.js';
import { blobKeyId, openBlob, sealBlob } from './crypto.js';
import { checkUsable, findKey, type KeyRecord, keyById, kmsError, kmsTables } from './keys.js';

const MAX_PLAINTEXT = 4096;
const MAX_CIPHERTEXT = 6144;

/** A key for a cryptographic operation: resolvable, enabled, and usable by the caller with this context. */
function cryptoKey(k: KmsCall, ref: string, action: string, context: Record<string, string>): KeyRecord {
  const key = findKey(k.ctx, k.who.accountId, k.region, ref);
  requireKeyAccess(k.ctx, key, { principal: k.who, action, encryptionContext: context });
  checkUsable(key);
  return key;
}

function algorithm(k: KmsCall, name: string): void {
  const a = str(k, name);
  if (a !== undefined && a !== 'SYMMETRIC_DEFAULT') {
    throw kmsError('InvalidKeyUsageException', `${a} is not supported by a symmetric key.`);
  }
}

/** The key's material; AWS-managed keys made by EC2 get theirs here, on first cryptographic use. */
function material(k: KmsCall, key: KeyRecord): Buffer {
  if (!key.material) {
    const sealed = k.master.newMaterial();
    kmsTables(k.ctx).keys.put(key.keyId, { ...key, material: sealed });
    return k.master.open(sealed);
  }
  return k.master.open(key.material);
}

function seal(k: KmsCall, key: KeyRecord, plaintext: Buffer, context: Record<string, string>): string {
  return sealBlob(key.keyId, material(k, key), plaintext, context).toString('base64');
}

function invalidCiphertext() {
  return kmsError('InvalidCiphertextException', '');
}

/** Opens a ciphertext blob: its key (which must match KeyId when given), then the plaintext under the context. */
function open(
  k: KmsCall,
  blobName: string,
  keyName: string,
  contextName: string,
  action: string,
): { key: KeyRecord; plaintext: Buffer } {
  const ciphertext = blob(k, blobName, MAX_CIPHERTEXT);
  const context = stringMap(k, contextName);
  const keyId = blobKeyId(ciphertext);
  const key = keyId ? keyById(k.ctx, keyId) : undefined;
  if (!key || key.region !== k.region) throw invalidCiphertext();
  const named = str(k, keyName);
  if (named !== undefined && findKey(k.ctx, k.who.accountId, k.region, named).keyId !== key.keyId) {
    throw kmsError(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    );
  }
  requireKeyAccess(k.ctx, key, { principal: k.who, action, encryptionContext: context });
  checkUsable(key);
  const plaintext = openBlob(ciphertext, material(k, key), context);
  if (!plaintext) throw invalidCiphertext();
  return { key, plaintext };
}

export const encrypt: KmsOp = (k) => {
  const plaintext = blob(k, 'Plaintext', MAX_PLAINTEXT);
  const context = stringMap(k, 'EncryptionContext');
  algorithm(k, 'EncryptionAlgorithm');
  const key = cryptoKey(k, reqStr(k, 'KeyId'), 'kms:Encrypt', context);
  return {
    CiphertextBlob: seal(k, key, plaintext, context),
    KeyId: key.arn,
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
};

export const decrypt: KmsOp = (k) => {
  algorithm(k, 'EncryptionAlgorithm');
  const { key, plaintext } = open(k, 'CiphertextBlob', 'KeyId', 'EncryptionContext', 'kms:Decrypt');
  return {
    KeyId: key.arn,
    Plaintext: plaintext.toString('base64'),
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
};

export const reEncrypt: KmsOp = (k) => {
  algorithm(k, 'SourceEncryptionAlgorithm');
  algorithm(k, 'DestinationEncryptionAlgorithm');
  const destRef = reqStr(k, 'DestinationKeyId');
  const source = open(k, 'CiphertextBlob', 'SourceKeyId', 'SourceEncryptionContext', 'kms:ReEncryptFrom');
  const context = stringMap(k, 'DestinationEncryptionContext');
  const dest = cryptoKey(k, destRef, 'kms:ReEncryptTo', context);
  return {
    CiphertextBlob: seal(k, dest, source.plaintext, context),
    SourceKeyId: source.key.arn,
    KeyId: dest.arn,
    SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
};

/** NumberOfBytes or KeySpec (AES_256, AES_128), exactly one. */
function dataKeyLength(k: KmsCall): number {
  const n = int(k, 'NumberOfBytes');
  const spec = str(k, 'KeySpec');
  if ((n === undefined) === (spec === undefined)) {
    throw validation('Please specify either number of bytes or key spec.');
  }
  if (spec !== undefined) {
    if (spec !== 'AES_256' && spec !== 'AES_128') {
      throw validation(
        `Value '${spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`,
      );
    }
    return spec === 'AES_256' ? 32 : 16;
  }
  if ((n as number) < 1 || (n as number) > 1024) {
    throw validation(
      `Value '${n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024`,
    );
  }
  return n as number;
}

function dataKey(k: KmsCall, action: string) {
  const length = dataKeyLength(k);
  const context = stringMap(k, 'EncryptionContext');
  const key = cryptoKey(k, reqStr(k, 'KeyId'), action, context);
  const plaintext = randomBytes(length);
  return { key, plaintext, CiphertextBlob: seal(k, key, plaintext, context) };
}

export const generateDataKey: KmsOp = (k) => {
  const d = dataKey(k, 'kms:GenerateDataKey');
  return { CiphertextBlob: d.CiphertextBlob, Plaintext: d.plaintext.toString('base64'), KeyId: d.key.arn };
};

export const generateDataKeyWithoutPlaintext: KmsOp = (k) => {
  const d = dataKey(k, 'kms:GenerateDataKeyWithoutPlaintext');
  return { CiphertextBlob: d.CiphertextBlob, KeyId: d.key.arn };
};
