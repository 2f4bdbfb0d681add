import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError } from './errors.js';
import { DataDirLock } from './lock.js';
import {
  decodeSecretFile,
  encodeSecretFile,
  KeyRing,
  type LoadedKeyRing,
  newRingKey,
  parseSecretFile,
  readKeyRing,
  readSecretFileText,
  SECRET_FILE,
  type SecretKms,
  writeSecretFileText,
} from './secret.js';

/** Where `lifeboat server init` takes the secret from; a new random one when none is given. */
export interface InitSecretOptions {
  /** A restored root secret (from its recovery phrase). */
  root?: Buffer;
  /** With `root`: a copy of the old appliance's secret file, whose older keys the root opens. */
  olderFrom?: { text: string; where: string };
  /** A copy of a KMS-wrapped secret file (`--kms-file-out`), unwrapped through KMS. */
  fromKmsFile?: { text: string; where: string };
  /** Keep the current key only as ciphertext of this KMS key (alias or ARN). */
  kmsKeyId?: string;
  kms?: SecretKms;
}

export interface InitSecretResult {
  ring: KeyRing;
  /** The secret file as written (KMS-wrapped when so kept): what `--kms-file-out` saves. */
  fileText: string;
  restored: boolean;
}

/**
 * Makes DATA/secret.json, holding the data folder's lock: CONFLICT when the folder has a secret already (init never
 * replaces a secret: what it sealed would be lost).
 */
export async function initSecret(
  dataDir: string,
  options: InitSecretOptions = {},
): Promise<InitSecretResult> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ApplianceError(
      'DATA_DIR_UNUSABLE',
      `cannot use data folder ${dataDir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const lock = await DataDirLock.acquire(join(dataDir, 'appliance.lock'));
  try {
    if ((await readSecretFileText(dataDir)) !== undefined) {
      throw new ApplianceError(
        'CONFLICT',
        `${dataDir} has an appliance secret already: init leaves it as it is (see its phrase with \`lifeboat server recovery-phrase\`, replace its key with \`lifeboat server rotate-secret\`)`,
      );
    }
    let loaded: LoadedKeyRing;
    let restored = true;
    if (options.fromKmsFile) {
      parseSecretFile(options.fromKmsFile.text, options.fromKmsFile.where);
      loaded = await decodeSecretFile(options.fromKmsFile.text, options.fromKmsFile.where, {
        kms: options.kms,
      });
      if (loaded.protection.kind !== 'kms') {
        throw new ApplianceError(
          'VALIDATION_FAILED',
          `${options.fromKmsFile.where} is not wrapped by a KMS key`,
        );
      }
    } else if (options.root && options.olderFrom) {
      loaded = await decodeSecretFile(options.olderFrom.text, options.olderFrom.where, {
        root: options.root,
        kms: options.kms,
      });
    } else if (options.root) {
      const key = newRingKey(options.root);
      loaded = { ring: new KeyRing([key], key.id), protection: { kind: 'plain' } };
    } else {
      const key = newRingKey();
      loaded = { ring: new KeyRing([key], key.id), protection: { kind: 'plain' } };
      restored = false;
    }
    // A restore from a KMS-wrapped copy stays wrapped by its key; one from a phrase is plain unless told.
    const kmsKeyId =
      options.kmsKeyId ??
      (options.fromKmsFile && loaded.protection.kind === 'kms' ? loaded.protection.keyId : undefined);
    const fileText =
      options.fromKmsFile && !options.kmsKeyId
        ? options.fromKmsFile.text
        : await encodeSecretFile(loaded.ring, kmsKeyId ? { keyId: kmsKeyId, kms: options.kms } : undefined);
    await writeSecretFileText(dataDir, fileText, { exclusive: true });
    return { ring: loaded.ring, fileText, restored };
  } finally {
    await lock.release();
  }
}

/**
 * Adds a new key to DATA's ring and makes it current, keeping the same protection (plain or the same KMS key);
 * the older keys stay, sealed by the new one. The caller holds the data folder (Appliance.open).
 */
export async function rotateKeyRing(
  dataDir: string,
  options: { kms?: SecretKms } = {},
): Promise<{ ring: KeyRing; previousId: string; fileText: string }> {
  const { ring, protection } = await readKeyRing(dataDir, options);
  const rotated = ring.rotated();
  const fileText = await encodeSecretFile(
    rotated,
    protection.kind === 'kms' ? { keyId: protection.keyId, kms: options.kms } : undefined,
  );
  await writeSecretFileText(dataDir, fileText);
  return { ring: rotated, previousId: ring.currentId, fileText };
}

export const secretFile = (dataDir: string): string => join(dataDir, SECRET_FILE);
