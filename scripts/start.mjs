#!/usr/bin/env node
// npm start: the sandbox with its demo environment, and the appliance pointed at it (AWS_ENDPOINT_URL), both
// keeping their data in .lifeboat/ of this checkout. Runs until Ctrl-C, then stops both.
// The administrator password below is a demo fixture, printed on purpose: never use it for a real appliance.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..');
const data = join(root, '.lifeboat');
const cli = join(root, 'packages/cli/bin/lifeboat.js');
const DEMO_PASSWORD = 'lifeboat-demo';
const LISTEN = process.env.LIFEBOAT_LISTEN ?? '127.0.0.1:7420';
mkdirSync(data, { recursive: true, mode: 0o700 });

const children = [];
function start(args, env) {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`lifeboat ${args[0]} stopped (${signal ?? `exit ${code}`}): stopping the rest`);
      stop(1);
    }
  });
  return child;
}

/** The first stdout line that `accept` recognises (the child's "I am listening" line). */
function firstLine(child, accept) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const value = accept(line);
      if (value !== undefined) resolve(value);
    });
    child.once('exit', () => reject(new Error('it stopped before it was ready')));
  });
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(
    () => process.exit(code),
  );
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

console.log(
  'starting the sandbox (demo environment: two accounts, two regions, instances with real file systems)...',
);
const sandbox = start(['--json', 'sandbox', '--data', join(data, 'sandbox'), '--seed', 'demo'], {});
let json = '';
const sb = await firstLine(sandbox, (line) => {
  // --json prints one indented document: gather it until it parses.
  if (!json && !line.startsWith('{')) return undefined;
  json += `${line}\n`;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}).catch((err) => {
  console.error(`the sandbox did not start: ${err.message}`);
  stop(1);
});
const account = sb.accounts[0];
const appliance = start(['server', '--data', join(data, 'appliance'), '--listen', LISTEN], {
  AWS_ENDPOINT_URL: sb.endpoint,
  AWS_ACCESS_KEY_ID: account.accessKeyId,
  AWS_SECRET_ACCESS_KEY: account.secretAccessKey,
  AWS_REGION: 'us-east-1',
  // The SDK warns once per process that Node 20 support ends in 2027: known, and noise in a demo.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  LIFEBOAT_ADMIN_PASSWORD: DEMO_PASSWORD,
});
const api = await firstLine(appliance, (line) => line.match(/^lifeboat appliance: (\S+)/)?.[1]).catch(
  (err) => {
    console.error(`the appliance did not start: ${err.message}`);
    stop(1);
  },
);
const server = api.replace(/\/api\/v1$/, '');
const setUp = await setUpDemo(
  api,
  sb.accounts,
  sb.regions.slice(0, 2).map((r) => r.name ?? r),
);

console.log(`
Lifeboat is running (Ctrl-C stops it; data in ${data}):
  sandbox (AWS endpoint): ${sb.endpoint}   accounts: ${sb.accounts.map((a) => `${a.name} ${a.accountId}`).join(', ')}
  appliance API:          ${api}   (OpenAPI: ${api}/openapi.json)
  demo administrator:     admin / ${DEMO_PASSWORD}   (a demo password, printed on purpose; unless you changed it)
  demo:                   ${setUp.join('\n                          ')}

Try, in another terminal of this folder:
  export LIFEBOAT_SERVER=${server}
  LIFEBOAT_LOGIN_PASSWORD=${DEMO_PASSWORD} npx lifeboat login --user admin
  npx lifeboat instance list
  npx lifeboat session list
  npx lifeboat policy list
  npx lifeboat timeline
`);

/**
 * The demo, set up through the API as an operator would: the production and backup accounts with their sandbox
 * access keys (fixtures, not secrets), the inventory read, and at the first start a policy over the instances
 * tagged Environment: prod in both demo regions with a replica in the backup account, run once so that restore
 * points show at once. A second start finds them all there and changes nothing.
 */
async function setUpDemo(base, accounts, regions) {
  const call = async (method, path, body, token) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(token && { authorization: `Bearer ${token}` }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };
  const login = await call('POST', '/auth/login', { user: 'admin', password: DEMO_PASSWORD });
  if (login.status !== 200) return [`not set up (admin login: ${login.body.detail ?? login.status})`];
  const token = login.body.token;
  const lines = [];
  try {
    for (const [name, a] of [
      ['production', accounts[0]],
      ['backup', accounts[1]],
    ]) {
      const added = await call(
        'POST',
        '/accounts',
        { name, regions, accessKeys: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey } },
        token,
      );
      if (added.status === 201) lines.push(`account ${name} (${regions.join(', ')}) registered`);
      else if (added.status === 409) lines.push(`account ${name} (registered at an earlier start)`);
      else lines.push(`account ${name} not registered: ${added.body.detail ?? added.status}`);
    }
    const policy = {
      name: 'demo-prod',
      description: 'the demo: prod instances in both regions, a replica in the backup account',
      resources: { accounts: ['production'], regions, tags: { Environment: 'prod' } },
      schedule: { daily: { times: ['02:00'] }, timezone: 'UTC' },
      snapshots: { keep: 7 },
      replicas: [{ account: 'backup', region: regions[1], keep: 14 }],
    };
    const created = await call('POST', '/policies', policy, token);
    if (created.status === 409) {
      lines.push('policy demo-prod (made at an earlier start)');
      return lines;
    }
    if (created.status !== 201) {
      lines.push(`policy demo-prod not made: ${created.body.detail ?? created.status}`);
      return lines;
    }
    await call('POST', '/inventory/refresh', { wait: true }, token);
    const run = await call('POST', '/policies/demo-prod/run?wait=true', undefined, token);
    const points = await call('GET', '/restore-points?policy=demo-prod', undefined, token);
    lines.push(
      `policy demo-prod made and run once: session ${run.body.state ?? run.status}, ` +
        `${points.body.items?.length ?? 0} restore points (see: npx lifeboat timeline)`,
    );
    return lines;
  } finally {
    await call('POST', '/auth/logout', {}, token);
  }
}
