// Sessions made with the portal's JSON API inside the browser, then used through each proxy. The
// specs cover the login round trip with the Remote-* headers, the second factor and a replayed
// code, the subject rule's 403, logout across every application, and "remember me" across a
// browser restart.
import { Page } from '@playwright/test';

import { expect, test } from './support/fixtures';
import { echoedHeader, firstFactor, callPortalApi, rdOf, secondFactorTotp } from './support/portal';
import { PROXIES, Proxy, USERS, appUrl, userNamed } from './support/topology';
import { currentStep, totpCode } from './support/totp';

/** Visits `url` and expects a response from the echo application, not the portal. */
async function expectApplication(page: Page, url: string): Promise<void> {
  const response = await page.goto(url);
  expect(response?.status(), `status of ${url}`).toBe(200);
  expect(new URL(page.url()).href).toBe(url);
  await expect(page.locator('#echo')).toBeVisible();
}

/** Visits `url` and expects to land on the portal with `rd` naming it. */
async function expectPortal(page: Page, proxy: Proxy, url: string): Promise<void> {
  await page.goto(url);
  expect(new URL(page.url()).origin).toBe(new URL(proxy.portal).origin);
  expect(rdOf(page)).toBe(url);
}

/** Waits until the next TOTP step begins when fewer than `seconds` are left in this one. */
async function avoidStepEnd(seconds: number): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < seconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 200));
}

for (const proxy of PROXIES) {
  test.describe(`through ${proxy.name}`, () => {
    test('login round trip sets Remote-* headers', async ({ profile, screenshots }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      const target = appUrl(proxy, 'app', '/dashboard?tab=1');
      await expectPortal(page, proxy, target);
      await screenshots.take(page, 'portal');

      const reply = await firstFactor(page, alice.username, alice.password, { targetURL: rdOf(page)! });
      expect(reply.status).toBe(200);
      expect(reply.body.data?.redirect).toBe(target);

      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([alice.username]);
      expect(await echoedHeader(page, 'Remote-Groups')).toEqual(['admins,dev']);
      expect(await echoedHeader(page, 'Remote-Email')).toEqual([alice.email]);
      expect(await echoedHeader(page, 'Remote-Name')).toEqual([alice.displayName]);
      await screenshots.take(page, 'application');
    });

    test('subject rule answers 403 to other groups', async ({ profile, screenshots }) => {
      const page = await profile.open();
      const admin = appUrl(proxy, 'admin', '/');
      await expectPortal(page, proxy, admin);
      const bob = USERS.bob;
      expect((await firstFactor(page, bob.username, bob.password)).status).toBe(200);

      const response = await page.goto(admin);
      expect(response?.status()).toBe(403);
      expect(new URL(page.url()).href).toBe(admin);
      await screenshots.take(page, 'forbidden');
      // The same session still opens the one-factor application.
      await expectApplication(page, appUrl(proxy, 'app', '/'));
      expect(await echoedHeader(page, 'Remote-User')).toEqual([bob.username]);
    });

    test('member of the group passes the subject rule', async ({ profile }) => {
      const page = await profile.open();
      const admin = appUrl(proxy, 'admin', '/');
      await expectPortal(page, proxy, admin);
      const alice = USERS.alice;
      expect((await firstFactor(page, alice.username, alice.password, { targetURL: admin })).body.data?.redirect).toBe(admin);
      await expectApplication(page, admin);
      expect(await echoedHeader(page, 'Remote-Groups')).toEqual(['admins,dev']);
    });

    test('two-factor app needs a code once', async ({ profile, environment, screenshots }) => {
      const user = userNamed(`totp_${proxy.name}`);
      const secret = environment.totpSecrets[user.username];
      const page = await profile.open();
      const target = appUrl(proxy, 'secure', '/report');
      await expectPortal(page, proxy, target);

      // The password alone is not enough: no redirect, and the app still sends to the portal.
      const first = await firstFactor(page, user.username, user.password, { targetURL: target });
      expect(first.status).toBe(200);
      expect(first.body.data?.redirect).toBeUndefined();
      await expectPortal(page, proxy, target);
      await expectApplication(page, appUrl(proxy, 'app', '/'));

      await page.goto(`${proxy.portal}?rd=${encodeURIComponent(target)}`);
      await avoidStepEnd(3);
      const code = totpCode(secret);
      const second = await secondFactorTotp(page, code, target);
      expect(second.status).toBe(200);
      expect(second.body.data?.redirect).toBe(target);
      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([user.username]);
      await screenshots.take(page, 'two-factor application');

      // The same code again is a replay, and an older step is refused too.
      await page.goto(proxy.portal);
      const replay = await secondFactorTotp(page, code);
      expect(replay.status).toBe(403);
      expect(replay.body.status).toBe('KO');
      const older = await secondFactorTotp(page, totpCode(secret, currentStep() - 1));
      expect(older.status).toBe(403);
      // The refused codes did not end the two-factor session.
      await expectApplication(page, target);
    });

    test('logout ends access to every app', async ({ profile, screenshots }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      await page.goto(proxy.portal);
      expect((await firstFactor(page, alice.username, alice.password)).status).toBe(200);
      const applications = [appUrl(proxy, 'app', '/'), appUrl(proxy, 'admin', '/')];
      for (const url of applications) await expectApplication(page, url);

      await page.goto(proxy.portal);
      const logout = await callPortalApi(page, 'POST', '/api/logout', { targetURL: applications[0] });
      expect(logout.status).toBe(200);
      expect(logout.body.data?.safeTargetURL).toBe(true);
      for (const url of applications) await expectPortal(page, proxy, url);
      await screenshots.take(page, 'portal after logout');
    });

    test('remember me survives a browser restart', async ({ profile, screenshots }) => {
      const user = userNamed(`remember_${proxy.name}`);
      const target = appUrl(proxy, 'app', '/kept');
      let page = await profile.open();
      await page.goto(proxy.portal);
      expect((await firstFactor(page, user.username, user.password, { rememberMe: true })).status).toBe(200);
      await expectApplication(page, target);

      page = await profile.restart();
      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([user.username]);
      await screenshots.take(page, 'application after restart');
    });

    test('without remember me a restart ends access', async ({ profile }) => {
      const user = userNamed(`remember_${proxy.name}`);
      const target = appUrl(proxy, 'app', '/gone');
      let page = await profile.open();
      await page.goto(proxy.portal);
      expect((await firstFactor(page, user.username, user.password, { rememberMe: false })).status).toBe(200);
      await expectApplication(page, target);

      page = await profile.restart();
      await expectPortal(page, proxy, target);
    });
  });
}

