/**
 * A forgotten password, as an operator recovers it: `lifeboat server reset-password` on the data folder with the
 * appliance stopped (local access to the folder is the credential). It is refused while the appliance runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  lifeboat,
  oneLineError,
  stopAll,
} from './appliance-process.js';

afterAll(stopAll);

describe('lifeboat server reset-password', () => {
  it('sets the password, enables the user and ends its logins; refused while the appliance runs', async () => {
    const first = await ApplianceProcess.start();
    const api = new Api(first.api);
    const admin = await api.login('admin', ADMIN_PASSWORD);
    await api.addUser(admin, 'second', 'administrator', 'second-password');
    expect((await api.call('PATCH', '/users/admin', { token: admin, body: { disabled: true } })).status).toBe(
      200,
    );

    const busy = await lifeboat(['server', 'reset-password', 'admin', '--data', first.data], {
      LIFEBOAT_NEW_PASSWORD: 'recovered-password',
    });
    expect(busy.code).toBe(6);
    expect(oneLineError(busy.stderr)).toMatch(/another appliance .* uses/);
    expect((await first.stop()).code).toBe(0);

    const reset = await lifeboat(['server', 'reset-password', 'admin', '--data', first.data], {
      LIFEBOAT_NEW_PASSWORD: 'recovered-password',
    });
    expect(reset.code).toBe(0);
    expect(reset.stdout + reset.stderr).not.toContain('recovered-password');
    const unknown = await lifeboat(['server', 'reset-password', 'nobody', '--data', first.data], {
      LIFEBOAT_NEW_PASSWORD: 'recovered-password',
    });
    expect(unknown.code).toBe(5);
    expect(oneLineError(unknown.stderr)).toMatch(/no user named nobody/);

    const again = await ApplianceProcess.start({ data: first.data, adminPassword: null });
    const api2 = new Api(again.api);
    expect((await api2.call('GET', '/auth/whoami', { token: admin })).status).toBe(401); // its logins ended
    const token = await api2.login('admin', 'recovered-password');
    const me = await api2.call<{ role: string }>('GET', '/auth/whoami', { token });
    expect(me.body.role).toBe('administrator');
    const audit = await api2.call<{ items: Array<{ action: string; details: Record<string, unknown> }> }>(
      'GET',
      '/audit?action=user.password',
      { token },
    );
    expect(audit.body.items[0]?.details).toMatchObject({ local: true, enabled: true });
    await again.stop();
  });
});
