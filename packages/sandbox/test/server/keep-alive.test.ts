import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { sandbox } from '../ebs/helpers.js';

// Issue 14: `bench/sandbox-ebs.mjs` died with `TimeoutError: socket hang up` (ECONNRESET). A node:http server
// closes a keep-alive connection once it has been idle for keepAliveTimeout (+ 1 s in Node 20.20), while the AWS
// SDK's agent (keepAlive, no `timeout`) reuses an idle socket however old it is: Node's Agent only shortens a
// timeout of its own from the server's `Keep-Alive: timeout=N` hint, it sets none. A request written as the
// server closes the socket is reset. The sandbox therefore never closes an idle connection; clients and close() do.

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(async () => {
  await sb?.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  socket: Socket;
}

/** GET /_sandbox/health through `agent` (as the SDK's requests go: a keep-alive agent, no socket timeout). */
function health(agent: Agent, endpoint = sb.endpoint): Promise<Answer> {
  const url = new URL('/_sandbox/health', endpoint);
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, socket: req.socket as Socket }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('keep-alive connections', () => {
  it('are kept open with no idle deadline announced', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const { status, headers } = await health(agent);
      expect(status).toBe(200);
      expect(headers.connection).toBe('keep-alive');
      // A `Keep-Alive: timeout=N` header means the server closes the connection after N idle seconds.
      expect(headers['keep-alive']).toBeUndefined();
    } finally {
      agent.destroy();
    }
  });

  it('take requests written when an idle-closing server would close them (no ECONNRESET)', async () => {
    // 100 connections, each reused from 50 ms before to 49 ms after the moment a server with an idle deadline
    // closes it: the announced Keep-Alive timeout + Node's 1 s margin after its response, or Node's default
    // (5 s + 1 s) when none is announced. Where a server closes idle connections, 5-20 % of these requests fail
    // with "socket hang up" or "read ECONNRESET" (a request written as the server's FIN or RST is on its way).
    const n = 100;
    const agents = Array.from({ length: n }, () => new Agent({ keepAlive: true }));
    try {
      const first = await Promise.all(
        agents.map(async (a) => ({ ...(await health(a)), at: performance.now() })),
      );
      const announced = /timeout=(\d+)/.exec(String(first[0]?.headers['keep-alive'] ?? ''))?.[1];
      const closeAt = announced === undefined ? 6000 : Number(announced) * 1000 + 1000;
      const outcomes = await Promise.all(
        first.map(async (f, i) => {
          await sleep(f.at + closeAt - 50 + i - performance.now());
          try {
            const again = await health(agents[i] as Agent);
            if (again.status !== 200) return `status ${again.status}`;
            return again.socket === f.socket ? 'ok' : 'a new connection: the server had closed the idle one';
          } catch (e) {
            return `${(e as NodeJS.ErrnoException).code} ${(e as Error).message}`;
          }
        }),
      );
      const failed = outcomes.map((o, i) => `${i - 50} ms: ${o}`).filter((o) => !o.endsWith(': ok'));
      expect(failed).toEqual([]);
    } finally {
      for (const a of agents) a.destroy();
    }
  }, 120_000);

  it('are closed by close(), idle or not', async () => {
    const other = await sandbox();
    const agent = new Agent({ keepAlive: true });
    try {
      const { socket } = await health(agent, other.endpoint);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      const t0 = Date.now();
      await other.close();
      await closed;
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      agent.destroy();
    }
  });
});
