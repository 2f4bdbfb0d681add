/**
 * `lifeboat sandbox` (issue 4): the command serves the sandbox on one port, prints the endpoint and every test
 * account's key pair, seeds the demo environment, keeps state in --data across restarts, and stops on SIGTERM.
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, lifeboat, ROOT, removeDir, tempDir } from './helpers.js';

interface Started {
  endpoint: string;
  dataDir: string;
  adminToken: string;
  accounts: Array<{ accountId: string; name: string; accessKeyId: string; secretAccessKey: string }>;
  regions: string[];
}

let dir: string;
beforeAll(() => {
  dir = tempDir('sandbox-cmd');
});
afterAll(() => removeDir(dir));

/** Starts `lifeboat --json sandbox ...`, waits for its JSON, and returns it with a stop function. */
async function serve(args: string[]): Promise<{ info: Started; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, '--json', 'sandbox', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const info = await new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON from lifeboat sandbox: ${text}`)), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      text += b.toString();
      try {
        resolve(JSON.parse(text) as Started);
        clearTimeout(timer);
      } catch {
        // not complete yet
      }
    });
    child.on('exit', (code) => reject(new Error(`lifeboat sandbox exited with ${code}: ${text}`)));
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { info, stop };
}

function ec2(info: Started, region = 'us-east-1'): EC2Client {
  const a = info.accounts[0]!;
  return new EC2Client({
    endpoint: info.endpoint,
    region,
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
  });
}

describe('lifeboat sandbox', () => {
  it('prints the accounts and their key pairs (fixtures) with --json', async () => {
    const r = await lifeboat(['--json', 'sandbox', 'accounts']);
    expect(r.code).toBe(0);
    const accounts = JSON.parse(r.stdout) as Started['accounts'];
    expect(accounts.length).toBeGreaterThanOrEqual(2);
    for (const a of accounts)
      expect(a).toMatchObject({
        accountId: expect.stringMatching(/^\d{12}$/),
        accessKeyId: expect.stringMatching(/^AKIA/),
      });
  });

  it('--seed demo serves instances with tags over EC2, and keeps them across a restart', async () => {
    const data = join(dir, 'data');
    const first = await serve(['--data', data, '--seed', 'demo', '--fast']);
    expect(first.info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.info.regions.length).toBeGreaterThanOrEqual(2);
    const client = ec2(first.info);
    const before = await client.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Environment', Values: ['prod'] }] }),
    );
    const ids = (before.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId);
    expect(ids.length).toBeGreaterThan(0);
    client.destroy();
    expect(await first.stop()).toBe(0);
    const second = await serve(['--data', data, '--fast']);
    const again = ec2(second.info);
    const after = await again.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Environment', Values: ['prod'] }] }),
    );
    expect(
      (after.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map((i) => i.InstanceId)
        .sort(),
    ).toEqual([...ids].sort());
    again.destroy();
    expect(await second.stop()).toBe(0);
  });

  it('refuses an unknown seed and a bad port with exit 2', async () => {
    for (const args of [
      ['--seed', 'nope'],
      ['--port', '99999'],
    ]) {
      const r = await lifeboat(['sandbox', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error:/);
    }
  });
});
