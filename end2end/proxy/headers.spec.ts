// The proxies' own part of the contract, checked with plain HTTPS requests: Remote-* headers sent
// by the client never reach the application, and the target Gatehouse checks is the one the
// proxy serves, whatever forwarded headers the client adds.
import { expect, test } from './support/fixtures';
import { echoedValues, request, sessionCookie } from './support/http';
import { PROXIES, USERS, appUrl } from './support/topology';

const FORGED = {
  'Remote-User': 'mallory',
  'Remote-Groups': 'admins',
  'Remote-Name': 'Mallory',
  'Remote-Email': 'mallory@example.net',
};

for (const proxy of PROXIES) {
  test.describe(`through ${proxy.name}`, () => {
    test('client Remote-* headers are removed on a bypass path', async ({ environment }) => {
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/public/'), { headers: FORGED });
      expect(reply.status).toBe(200);
      for (const name of Object.keys(FORGED)) {
        expect(echoedValues(reply.body, name), name).toEqual([]);
      }
    });

    test('client Remote-* headers are replaced for a user', async ({ environment }) => {
      const alice = USERS.alice;
      const cookie = await sessionCookie(environment, proxy, alice.username, alice.password);
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/'), { headers: { ...FORGED, Cookie: cookie } });
      expect(reply.status).toBe(200);
      expect(echoedValues(reply.body, 'Remote-User')).toEqual([alice.username]);
      expect(echoedValues(reply.body, 'Remote-Groups')).toEqual([alice.groups.join(',')]);
      expect(echoedValues(reply.body, 'Remote-Name')).toEqual([alice.displayName]);
      expect(echoedValues(reply.body, 'Remote-Email')).toEqual([alice.email]);
    });

    test('Basic credentials reach the app', async ({ environment }) => {
      const alice = USERS.alice;
      const credentials = Buffer.from(`${alice.username}:${alice.password}`).toString('base64');
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/'), { headers: { Authorization: `Basic ${credentials}` } });
      expect(reply.status).toBe(200);
      expect(echoedValues(reply.body, 'Remote-User')).toEqual([alice.username]);
    });

    test('wrong Basic credentials get a challenge', async ({ environment }) => {
      // An unknown user, so that the failure counts toward no real account's ban.
      const credentials = Buffer.from(`ghost_${proxy.name}:wrong`).toString('base64');
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/'), {
        headers: { Accept: 'text/html', Authorization: `Basic ${credentials}` },
      });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Basic realm="Authorization Required"');
      expect(reply.headers.location).toBeUndefined();
    });

    test('request body reaches the application', async ({ environment }) => {
      // The check must leave the body to the application: nginx sends none to Gatehouse.
      const body = JSON.stringify({ note: 'x'.repeat(2000) });
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/public/upload'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).method).toBe('POST');
      expect(JSON.parse(reply.body).body).toBe(body);
    });

    test('client forwarded headers do not change the target', async ({ environment }) => {
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/private'), {
        headers: {
          Accept: 'text/html',
          'X-Original-URL': appUrl(proxy, 'app', '/public/'),
          'X-Original-Method': 'GET',
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': `app.${proxy.domain}`,
          'X-Forwarded-Uri': '/public/',
          'X-Forwarded-Method': 'GET',
        },
      });
      expect(reply.status).toBe(302);
      const location = new URL(String(reply.headers.location));
      expect(location.origin).toBe(new URL(proxy.portal).origin);
      expect(location.searchParams.get('rd')).toBe(appUrl(proxy, 'app', '/private'));
    });

    test('non-Basic Authorization still gets the portal', async ({ environment }) => {
      // A client Authorization header that is not Basic belongs to the application, so it
      // neither logs anyone in nor blocks the portal redirect.
      const reply = await request(environment, proxy, appUrl(proxy, 'app', '/'), {
        headers: { Accept: 'text/html', Authorization: 'Token abc' },
      });
      expect(reply.status).toBe(302);
      expect(new URL(String(reply.headers.location)).origin).toBe(new URL(proxy.portal).origin);
    });
  });
}
