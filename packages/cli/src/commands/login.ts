/**
 * `lifeboat login`, `logout` and `whoami`: the CLI as a client of the appliance (docs/api.md). The token is saved
 * 0600 under the XDG config folder (never printed); https servers are pinned by certificate fingerprint.
 */
import type { Command } from 'commander';
import { ApplianceClient, requireSecureTransport } from '../appliance/client.js';
import { loadCredentials, type SavedServer, updateCredentials } from '../appliance/credentials.js';
import { APPLIANCE_EXIT, ApplianceError } from '../appliance/errors.js';
import { appliancePassword, confirm, interactive } from '../appliance/prompt.js';
import { resolveServer, session } from '../appliance/session.js';
import { formatTags, formatTime, relativeTime } from '../appliance/table.js';
import {
  certificateChanged,
  normalizeFingerprint,
  probeCertificate,
  sameFingerprint,
} from '../appliance/tls.js';
import { globals, print, printJson } from '../context.js';

interface LoginOptions {
  server?: string;
  user: string;
  fingerprint?: string;
  loginPasswordFile?: string;
}

interface LoginAnswer {
  user: { name: string; role: string };
  token?: string;
  expiresAt: string;
}

export interface WhoAmI {
  name: string;
  role: string;
  restoreTags: Record<string, string> | null;
  loginKind: string;
  expiresAt: string;
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description(
      'log in to the appliance (password from a prompt, --login-password-file or $LIFEBOAT_LOGIN_PASSWORD); ' +
        'the token is saved 0600 in ~/.config/lifeboat',
    )
    .option(
      '--server <url>',
      'the appliance (default: $LIFEBOAT_SERVER, the last login, or http://127.0.0.1:7420)',
    )
    .option('--user <name>', 'user name', 'admin')
    .option(
      '--fingerprint <sha256>',
      "the appliance certificate's SHA-256 fingerprint (https; printed by `lifeboat server` at start)",
    )
    .option(
      '--login-password-file <file>',
      'read the password from this file (default: $LIFEBOAT_LOGIN_PASSWORD or a prompt)',
    )
    .action(async (o: LoginOptions, cmd: Command) => {
      const opts = globals(cmd);
      const server = resolveServer(o.server);
      requireSecureTransport(server);
      const saved = loadCredentials().servers[server];
      const pin = await trustedCertificate(server, o.fingerprint ?? process.env.LIFEBOAT_FINGERPRINT, saved);
      const password = await appliancePassword({
        ...(o.loginPasswordFile && { file: o.loginPasswordFile }),
        env: 'LIFEBOAT_LOGIN_PASSWORD',
        fileOption: '--login-password-file',
        prompt: `Password of ${o.user} at ${server}: `,
      });
      const client = new ApplianceClient(server, { ...(pin && { fingerprint: pin.fingerprint }) });
      const answer = await client.post<LoginAnswer>('/auth/login', { user: o.user, password, mode: 'token' });
      const { user, token, expiresAt } = answer.body;
      if (!token) {
        throw new ApplianceError(`the appliance at ${server} answered the login without a token`, {
          code: 'INVALID_RESPONSE',
          exitCode: APPLIANCE_EXIT.failure,
        });
      }
      updateCredentials((c) => {
        c.current = server;
        c.servers[server] = {
          user: user.name,
          token,
          expiresAt,
          ...(pin && { fingerprint: pin.fingerprint, certificate: pin.pem }),
        };
      });
      if (opts.json) return printJson({ server, user: user.name, role: user.role, expiresAt });
      print(`logged in to ${server} as ${user.name} (${user.role}) until ${formatTime(expiresAt)} UTC`);
    });

  program
    .command('logout')
    .description('end this login on the appliance and forget its token (--all: every login of the user)')
    .option('--all', 'end every login of the user, on every machine')
    .action(async (o: { all?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const s = session();
      let failure: ApplianceError | undefined;
      try {
        await s.client.post('/auth/logout', o.all ? { all: true } : {});
      } catch (err) {
        // An expired or revoked token is logged out already.
        if (!(err instanceof ApplianceError) || err.status !== 401) {
          if (!(err instanceof ApplianceError)) throw err;
          failure = err;
        }
      }
      let forgotten = false;
      if (s.tokenSource === 'saved') {
        updateCredentials((c) => {
          const entry = c.servers[s.server];
          if (entry?.token) {
            forgotten = true;
            const { token: _token, expiresAt: _expires, ...rest } = entry;
            c.servers[s.server] = rest;
          }
        });
      }
      if (failure) {
        throw new ApplianceError(
          `${forgotten ? 'the token is forgotten here, but ' : ''}the appliance did not end the login: ${failure.message}`,
          {
            code: failure.code,
            exitCode: failure.exitCode,
            ...(failure.status && { status: failure.status }),
          },
        );
      }
      if (opts.json) return printJson({ server: s.server, all: Boolean(o.all), forgotten });
      print(o.all ? `logged out of ${s.server} everywhere` : `logged out of ${s.server}`);
    });

  program
    .command('whoami')
    .description('the user, role and login expiry of the current appliance login')
    .action(async (_o, cmd: Command) => {
      const opts = globals(cmd);
      const s = session();
      const me = (await s.client.get<WhoAmI>('/auth/whoami')).body;
      if (opts.json) return printJson({ server: s.server, ...me });
      print(`${me.name} (${me.role}) at ${s.server}`);
      if (me.restoreTags) print(`restore tags: ${formatTags(me.restoreTags)}`);
      print(`login expires ${formatTime(me.expiresAt)} UTC (${relativeTime(me.expiresAt)})`);
    });
}

interface Pin {
  fingerprint: string;
  pem: string;
}

/**
 * For https servers, the certificate to pin: the one presented must match --fingerprint, or the saved pin, or
 * be confirmed at a terminal; otherwise the login is refused (exit 10) before any password is sent.
 */
async function trustedCertificate(
  server: string,
  given: string | undefined,
  saved: SavedServer | undefined,
): Promise<Pin | undefined> {
  if (new URL(server).protocol !== 'https:') return undefined;
  const wanted = given ? normalizeFingerprint(given) : undefined;
  const cert = await probeCertificate(server);
  if (wanted) {
    if (!sameFingerprint(cert.fingerprint, wanted)) {
      throw new ApplianceError(
        `the appliance at ${server} presents a certificate with SHA-256 ${cert.fingerprint}, not the ${wanted} ` +
          'you gave: check the fingerprint `lifeboat server` printed (or an impostor answers at this address)',
        { code: 'CERTIFICATE_CHANGED', exitCode: APPLIANCE_EXIT.unreachable },
      );
    }
    return { fingerprint: cert.fingerprint, pem: cert.pem };
  }
  if (saved?.fingerprint) {
    if (!sameFingerprint(cert.fingerprint, saved.fingerprint))
      throw certificateChanged(server, saved.fingerprint, cert.fingerprint);
    return { fingerprint: cert.fingerprint, pem: cert.pem };
  }
  if (!interactive()) {
    throw new ApplianceError(
      `the certificate of ${server} is not trusted yet: pass --fingerprint ${cert.fingerprint} after checking ` +
        'it is the one `lifeboat server` printed (or set LIFEBOAT_FINGERPRINT)',
      { code: 'CERTIFICATE_NOT_TRUSTED', exitCode: APPLIANCE_EXIT.unreachable },
    );
  }
  process.stderr.write(
    `the appliance at ${server} presents this certificate:\n` +
      `  subject: ${cert.subject}\n  issuer: ${cert.issuer}\n  valid: ${cert.validFrom} to ${cert.validTo}\n` +
      `  SHA-256: ${cert.fingerprint}\n` +
      'compare it with the fingerprint `lifeboat server` printed at start.\n',
  );
  if (!(await confirm('trust this certificate? [y/N] '))) {
    throw new ApplianceError(`certificate of ${server} not trusted: nothing was sent`, {
      code: 'CERTIFICATE_NOT_TRUSTED',
      exitCode: APPLIANCE_EXIT.unreachable,
    });
  }
  return { fingerprint: cert.fingerprint, pem: cert.pem };
}
