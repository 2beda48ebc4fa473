// What a visitor without a session meets through each proxy: the portal's health, the redirect to
// the portal with the right `rd`, and a bypass path that needs no login.
import { expect, test } from './support/fixtures';
import { echoedHeader, echoedRequest } from './support/portal';
import { PROXIES, appUrl } from './support/topology';
import { addVirtualAuthenticator, credentialsOf } from './support/webauthn';

/** Form-encodes `value` as Gatehouse does (Go's url.QueryEscape). */
function queryEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

for (const proxy of PROXIES) {
  test.describe(`through ${proxy.name}`, () => {
    test('portal health check answers', async ({ profile, screenshots }) => {
      const page = await profile.open();
      const response = await page.goto(new URL('/api/health', proxy.portal).href);
      expect(response?.status()).toBe(200);
      expect(JSON.parse(await response!.text())).toEqual({ status: 'OK' });
      await screenshots.take(page, 'health');
    });

    test('portal origin can use WebAuthn', async ({ profile }) => {
      // Chromium allows WebAuthn only on a secure origin, which needs the suite's CA to be
      // trusted; ignoring certificate errors instead would turn WebAuthn off.
      const page = await profile.open();
      const authenticator = await addVirtualAuthenticator(profile.context!, page);
      await page.goto(proxy.portal);
      expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
      const rpId = new URL(proxy.portal).hostname;
      const type = await page.evaluate(async (rpId) => {
        const credential = await navigator.credentials.create({
          publicKey: {
            rp: { id: rpId, name: 'proxy suite' },
            user: { id: new Uint8Array([1, 2, 3, 4]), name: 'probe', displayName: 'Probe' },
            challenge: crypto.getRandomValues(new Uint8Array(32)),
            pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          },
        });
        return credential?.type;
      }, rpId);
      expect(type).toBe('public-key');
      expect(await credentialsOf(authenticator)).toHaveLength(1);
    });

    test('anonymous visit goes to the portal with rd', async ({ profile, screenshots }) => {
      const page = await profile.open();
      for (const label of ['app', 'secure'] as const) {
        const target = appUrl(proxy, label, '/dashboard?tab=1');
        await page.goto(target);
        expect(page.url()).toBe(`${proxy.portal}?rd=${queryEscape(target)}&rm=GET`);
        await expect(page.getByLabel('Username')).toBeVisible();
        await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
        await screenshots.take(page, `portal for ${label}`);
      }
    });

    test('bypass path needs no login', async ({ profile, screenshots }) => {
      const page = await profile.open();
      const response = await page.goto(appUrl(proxy, 'app', '/public/notes.txt?x=1'));
      expect(response?.status()).toBe(200);
      expect(new URL(page.url()).host).toBe(`app.${proxy.domain}`);
      expect((await echoedRequest(page)).url).toBe('/public/notes.txt?x=1');
      expect(await echoedHeader(page, 'Remote-User')).toEqual([]);
      await screenshots.take(page, 'bypass path');
    });

    test('path outside the bypass rule is not bypassed', async ({ profile }) => {
      const page = await profile.open();
      // `/public` must be a whole path segment: `/publicity` is protected.
      await page.goto(appUrl(proxy, 'app', '/publicity'));
      expect(new URL(page.url()).origin).toBe(new URL(proxy.portal).origin);
    });
  });
}
