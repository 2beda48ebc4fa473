// A malicious `rd` on the portal never sends the browser off-site: not to another domain, not to
// plain http, not to a javascript: URL, whichever proxy the portal is reached through.
import { expect, test } from './support/fixtures';
import { callPortalApi, firstFactor, openPortal } from './support/portal';
import { PROXIES, USERS } from './support/topology';

for (const proxy of PROXIES) {
  const maliciousTargets = [
    'https://evil.example.net/',
    `https://${proxy.domain}.evil.example.net/`,
    `https://evil.example.net\\@app.${proxy.domain}/`,
    `https://app.${proxy.domain}@evil.example.net/`,
    `http://app.${proxy.domain}/`,
    '//evil.example.net/',
    'javascript:alert(document.domain)',
  ];

  test.describe(`through ${proxy.name}`, () => {
    test('malicious rd never leaves the site', async ({ profile, screenshots }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      const dialogs: string[] = [];
      page.on('dialog', async (dialog) => {
        dialogs.push(dialog.message());
        await dialog.dismiss();
      });

      for (const [index, rd] of maliciousTargets.entries()) {
        await openPortal(page, proxy, rd);
        expect(new URL(page.url()).origin, rd).toBe(new URL(proxy.portal).origin);
        if (index === 0) await screenshots.take(page, 'portal with malicious rd');

        const login = await firstFactor(page, alice.username, alice.password, { targetURL: rd });
        expect(login.status, rd).toBe(200);
        expect(login.body.data?.redirect, rd).toBeUndefined();
        const check = await callPortalApi(page, 'POST', '/api/checks/safe-redirection', { uri: rd });
        expect(check.body.data?.ok, rd).toBe(false);
        const logout = await callPortalApi(page, 'POST', '/api/logout', { targetURL: rd });
        expect(logout.body.data?.safeTargetURL, rd).toBe(false);

        // Whatever the page's scripts do with rd, the browser stays on the portal.
        await page.waitForLoadState('networkidle');
        expect(new URL(page.url()).origin, rd).toBe(new URL(proxy.portal).origin);
      }
      expect(dialogs).toEqual([]);
      const foreign = profile.requests.filter((url) => !new URL(url).hostname.endsWith(`.${proxy.domain}`));
      expect(foreign).toEqual([]);
    });
  });
}
