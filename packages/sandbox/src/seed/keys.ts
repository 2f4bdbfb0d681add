import { randomBytes } from './prng.js';

/** An OpenSSH ed25519 public key line with fixed bytes, so that the demo's key pair is the same every time. */
export function demoPublicKey(): string {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(randomBytes('demo:ssh-key', 32))]);
  return `ssh-ed25519 ${blob.toString('base64')} ops@lifeboat-demo`;
}
