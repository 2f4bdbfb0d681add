/**
 * Which appliance a command talks to, and as whom: the server from `--server` (login), `LIFEBOAT_SERVER`, the
 * last login, or http://127.0.0.1:7420; the token from `LIFEBOAT_TOKEN` or the saved login; the pinned
 * certificate from the saved login (or `LIFEBOAT_FINGERPRINT`).
 */
import { ApplianceClient, normalizeServer } from './client.js';
import { DEFAULT_SERVER, loadCredentials, type SavedServer } from './credentials.js';
import { APPLIANCE_EXIT, ApplianceError } from './errors.js';
import { normalizeFingerprint } from './tls.js';

export function resolveServer(flag?: string): string {
  const saved = flag ? undefined : loadCredentials().current;
  return normalizeServer(flag || process.env.LIFEBOAT_SERVER || saved || DEFAULT_SERVER);
}

export interface Session {
  server: string;
  client: ApplianceClient;
  saved?: SavedServer;
  /** Where the token came from: LIFEBOAT_TOKEN or the saved login. */
  tokenSource: 'env' | 'saved';
}

/** The pin to use for a server: LIFEBOAT_FINGERPRINT, else the saved one. */
export function pinFor(saved: SavedServer | undefined): string | undefined {
  const env = process.env.LIFEBOAT_FINGERPRINT;
  if (env) return normalizeFingerprint(env);
  return saved?.fingerprint;
}

/** A client with the token of the current (or LIFEBOAT_SERVER's) appliance; exit 4 when there is none. */
export function session(): Session {
  const server = resolveServer();
  const saved = loadCredentials().servers[server];
  const envToken = process.env.LIFEBOAT_TOKEN;
  let token: string | undefined;
  if (envToken) token = envToken;
  else {
    token = saved?.token;
    if (!token) {
      throw new ApplianceError(`not logged in to ${server}: run \`lifeboat login\` (or set LIFEBOAT_TOKEN)`, {
        code: 'NOT_LOGGED_IN',
        exitCode: APPLIANCE_EXIT.auth,
      });
    }
    if (saved?.expiresAt && Date.parse(saved.expiresAt) <= Date.now()) {
      throw new ApplianceError(
        `your login to ${server} expired at ${saved.expiresAt}: run \`lifeboat login\``,
        {
          code: 'LOGIN_EXPIRED',
          exitCode: APPLIANCE_EXIT.auth,
        },
      );
    }
  }
  const fingerprint = pinFor(saved);
  const client = new ApplianceClient(server, { token, ...(fingerprint && { fingerprint }) });
  return { server, client, ...(saved && { saved }), tokenSource: envToken ? 'env' : 'saved' };
}
