import { EC2Client } from '@aws-sdk/client-ec2';
import type { BlockEngine } from '../../../src/core/blocks.js';
import type { Timing } from '../../../src/core/service.js';
import { type RunningSandbox, startSandbox } from '../../../src/sandbox.js';

/**
 * The real sandbox (SigV4-verified HTTP, the core's block engine, a temporary data folder) with SDK v3 EC2
 * clients per account and region, and a clock the tests move forward instead of waiting.
 */
export interface TestSandbox {
  sandbox: RunningSandbox;
  blocks: BlockEngine;
  advance(seconds: number): void;
  ec2(account?: number, region?: string): EC2Client;
  close(): Promise<void>;
}

export async function startTestSandbox(opts: { timing?: Partial<Timing> } = {}): Promise<TestSandbox> {
  const sandbox = await startSandbox({ timing: opts.timing });
  const clients: EC2Client[] = [];
  return {
    sandbox,
    blocks: sandbox.ctx.blocks,
    advance(seconds) {
      sandbox.advanceClock(seconds * 1000);
    },
    ec2(account = 0, region = 'us-east-1') {
      const a = sandbox.accounts[account]!;
      const client = new EC2Client({
        endpoint: sandbox.endpoint,
        region,
        credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await sandbox.close();
    },
  };
}
