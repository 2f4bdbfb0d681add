/**
 * The recovery phrase of an appliance secret: the 32 bytes in the repository's recovery key format
 * (`LB1-` and 52 base32 characters in groups of 4, the last one checking the padding), so one way of writing
 * down, typing and checking serves both. Parsed back with @lifeboat/repository's parseRecoveryKey.
 */
const B32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function recoveryPhraseOf(secret: Buffer): string {
  if (secret.length !== 32) throw new Error('an appliance secret is 32 bytes');
  let bits = '';
  for (const b of secret) bits += b.toString(2).padStart(8, '0');
  bits = bits.padEnd(260, '0');
  let out = '';
  for (let i = 0; i < 260; i += 5) out += B32[Number.parseInt(bits.slice(i, i + 5), 2)];
  return `LB1-${out.match(/.{1,4}/g)!.join('-')}`;
}
