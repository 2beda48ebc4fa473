// The flows as a person meets them, through the portal's pages. Every page uses the same labels:
// the fields "Username", "Password", "Remember me", "One-time code" and "Device name", and the
// buttons "Sign in", "Verify", "Log out", "Add security key", "Use security key" and "Sign in
// with a passkey". sessions.spec.ts covers the same sessions through the JSON API.
import { Page } from '@playwright/test';

import { BrowserProfile, expect, test } from './support/fixtures';
import { countMessages, linkIn, waitForMessage } from './support/mail';
import { echoedHeader, rdOf } from './support/portal';
import { Environment, PROXIES, Proxy, User, USERS, appUrl, userNamed } from './support/topology';
import { totpCode } from './support/totp';
import { addCredentials, addVirtualAuthenticator, credentialsOf } from './support/webauthn';

/**
 * Fills in and submits the sign-in form of the page the browser shows, then waits until the
 * browser has left the sign-in page, for the target, the second factor or the settings.
 */
async function signIn(page: Page, user: User, options: { rememberMe?: boolean; password?: string } = {}): Promise<void> {
  const signInPage = new URL(page.url());
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(options.password ?? user.password);
  if (options.rememberMe) await page.getByLabel('Remember me').check();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.origin !== signInPage.origin || url.pathname !== signInPage.pathname);
}

/** Opens the portal's /logout page, presses "Log out" and waits until the browser has left it. */
async function logOut(page: Page, proxy: Proxy): Promise<void> {
  await page.goto(new URL('/logout', proxy.portal).href);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((url) => url.pathname !== '/logout');
}

/** Types a code into the "One-time code" field and presses "Verify". */
async function enterCode(page: Page, code: string): Promise<void> {
  await page.getByLabel('One-time code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
}

/**
 * Elevates the session, as the settings pages require before a change of second factors. It
 * requests a code, reads it from the e-mail in the SMTP sink and confirms it.
 */
async function elevate(page: Page, environment: Environment, user: User): Promise<void> {
  const before = await countMessages(environment, user.email);
  await page.getByRole('button', { name: 'Send a code' }).click();
  const message = await waitForMessage(environment, user.email, (_, index) => index >= before);
  const code = message.text.match(/\b[ABCDEFGHJKLMNPQRTUVWYXZ2346789]{8}\b/)?.[0];
  if (!code) throw new Error('no one-time code in the elevation e-mail');
  await page.getByLabel('Confirmation code').fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
}

/**
 * Registers the browser's virtual authenticator under `deviceName` on the elevated
 * /settings/two-factor page. The form appears once the page is hydrated.
 */
async function addSecurityKey(page: Page, deviceName: string): Promise<void> {
  await page.getByLabel('Device name').fill(deviceName);
  await page.getByRole('button', { name: 'Add security key' }).click();
  await expect(page.getByRole('status')).toHaveText('The second factor was added.');
  await expect(page.locator('.credential-list__name')).toHaveText([deviceName]);
}

async function expectApplication(page: Page, url: string): Promise<void> {
  await expect(page).toHaveURL(url);
  await expect(page.locator('#echo')).toBeVisible();
}

async function expectPortal(page: Page, proxy: Proxy): Promise<void> {
  await expect(page).toHaveURL((url) => url.origin === new URL(proxy.portal).origin);
}

/** Signs in with the form and enrols TOTP on /settings/two-factor; returns the secret read from the page. */
async function enrolTotp(page: Page, environment: Environment, proxy: Proxy, user: User): Promise<string> {
  await page.goto(new URL('/settings/two-factor', proxy.portal).href);
  await elevate(page, environment, user);
  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  // The secret is printed beside the QR code, as a person would type it into an app.
  const secret = (await page.locator('code.secret').innerText()).replace(/\s+/g, '');
  expect(secret).toMatch(/^[A-Z2-7]{32,}=*$/);
  await enterCode(page, totpCode(secret));
  return secret;
}

for (const proxy of PROXIES) {
  test.describe(`through ${proxy.name}`, () => {
    test('sign-in form returns to the app', async ({ profile, screenshots }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      const target = appUrl(proxy, 'app', '/dashboard?tab=1');
      await page.goto(target);
      expect(rdOf(page)).toBe(target);
      await screenshots.take(page, 'sign in');
      await signIn(page, alice);
      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([alice.username]);
      expect(await echoedHeader(page, 'Remote-Groups')).toEqual(['admins,dev']);
      expect(await echoedHeader(page, 'Remote-Email')).toEqual([alice.email]);
      expect(await echoedHeader(page, 'Remote-Name')).toEqual([alice.displayName]);
      await screenshots.take(page, 'application');
    });

    test('TOTP enrolment then code only', async ({ profile, environment, screenshots }) => {
      // Two waits for a new TOTP time step, up to 30 s each.
      test.setTimeout(150_000);
      const user = userNamed(`enrol_${proxy.name}`);
      const target = appUrl(proxy, 'secure', '/report');
      let page = await profile.open();
      await page.goto(target);
      await signIn(page, user);
      await screenshots.take(page, 'after password');
      const secret = await enrolTotp(page, environment, proxy, user);
      await screenshots.take(page, 'enrolled');
      // Enrolment is not a second factor, and its code cannot be used again: the target asks
      // for a code of a later time step.
      await page.goto(target);
      await expect(page).toHaveURL(/\/2fa/);
      await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
      await enterCode(page, totpCode(secret));
      await expectApplication(page, target);

      // A later visit in a new browser requires the password and then only a code.
      await profile.close();
      page = await profile.open();
      await page.goto(target);
      await signIn(page, user);
      await expect(page).toHaveURL(/\/2fa/);
      await screenshots.take(page, 'second factor');
      await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
      const code = totpCode(secret);
      await enterCode(page, code);
      await expectApplication(page, target);

      // The same code in another browser is a replay and is refused.
      const other = new BrowserProfile(`${profile.directory}-replay`, environment);
      const replayPage = await other.open();
      try {
        await replayPage.goto(target);
        await signIn(replayPage, user);
        await enterCode(replayPage, code);
        await expectPortal(replayPage, proxy);
        await expect(replayPage.getByRole('alert')).toHaveText(/\S/);
        await screenshots.take(replayPage, 'replayed code');
      } finally {
        await other.close();
      }
    });

    test('WebAuthn as second factor', async ({ profile, environment, screenshots }) => {
      const user = userNamed(`webauthn_${proxy.name}`);
      const target = appUrl(proxy, 'secure', '/');
      const page = await profile.open();
      const authenticator = await addVirtualAuthenticator(profile.context!, page);
      await page.goto(target);
      await signIn(page, user);
      await page.goto(new URL('/settings/two-factor', proxy.portal).href);
      await elevate(page, environment, user);
      await addSecurityKey(page, 'Virtual key');
      await expect.poll(async () => (await credentialsOf(authenticator)).length).toBe(1);
      await screenshots.take(page, 'key registered');

      await logOut(page, proxy);
      await page.goto(target);
      await signIn(page, user);
      await expect(page).toHaveURL(/\/2fa/);
      await screenshots.take(page, 'second factor with a key');
      await page.getByRole('button', { name: 'Use security key' }).click();
      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([user.username]);
    });

    test('passkey login', async ({ profile, environment, screenshots }) => {
      const user = userNamed(`passkey_${proxy.name}`);
      const target = appUrl(proxy, 'app', '/');
      let page = await profile.open();
      let authenticator = await addVirtualAuthenticator(profile.context!, page);
      await page.goto(target);
      await signIn(page, user);
      await page.goto(new URL('/settings/two-factor', proxy.portal).href);
      await elevate(page, environment, user);
      await addSecurityKey(page, 'Virtual passkey');
      await expect.poll(async () => (await credentialsOf(authenticator)).length).toBe(1);
      const credentials = await credentialsOf(authenticator);

      // A new browser holding the same passkey signs in without a password.
      await profile.close();
      page = await profile.open();
      authenticator = await addVirtualAuthenticator(profile.context!, page);
      await addCredentials(authenticator, credentials);
      await page.goto(target);
      await expectPortal(page, proxy);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await expectApplication(page, target);
      expect(await echoedHeader(page, 'Remote-User')).toEqual([user.username]);
      await screenshots.take(page, 'application after passkey');
    });

    test('logout page ends access everywhere', async ({ profile, screenshots }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      const applications = [appUrl(proxy, 'app', '/'), appUrl(proxy, 'admin', '/')];
      await page.goto(applications[0]);
      await signIn(page, alice);
      await expectApplication(page, applications[0]);
      await page.goto(applications[1]);
      await expectApplication(page, applications[1]);

      await page.goto(new URL('/logout', proxy.portal).href);
      await screenshots.take(page, 'logout');
      await logOut(page, proxy);
      await expectPortal(page, proxy);
      for (const url of applications) {
        await page.goto(url);
        await expectPortal(page, proxy);
        expect(rdOf(page)).toBe(url);
      }
    });

    test('remember me checkbox across restarts', async ({ profile }) => {
      const user = userNamed(`remember_${proxy.name}`);
      const target = appUrl(proxy, 'app', '/');
      let page = await profile.open();
      await page.goto(target);
      await signIn(page, user, { rememberMe: true });
      await expectApplication(page, target);
      page = await profile.restart();
      await page.goto(target);
      await expectApplication(page, target);

      await logOut(page, proxy);
      await page.goto(target);
      await signIn(page, user);
      await expectApplication(page, target);
      page = await profile.restart();
      await page.goto(target);
      await expectPortal(page, proxy);
    });

    test('password reset by e-mail link', async ({ profile, environment, screenshots }) => {
      const user = userNamed(`reset_${proxy.name}`);
      const newPassword = `${user.password}-renewed`;
      const page = await profile.open();
      await page.goto(new URL('/reset-password', proxy.portal).href);
      await page.getByLabel('Username or e-mail address').fill(user.username);
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await screenshots.take(page, 'reset requested');

      const message = await waitForMessage(environment, user.email, (candidate) => candidate.text.includes('/reset-password/step2'));
      const link = linkIn(message, '/reset-password/step2');
      expect(new URL(link).origin).toBe(new URL(proxy.portal).origin);
      await page.goto(link);
      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByLabel('Repeat the new password').fill(newPassword);
      await page.getByRole('button', { name: 'Set password' }).click();
      await page.waitForURL((url) => !url.pathname.startsWith('/reset-password'));
      await screenshots.take(page, 'password changed');

      const target = appUrl(proxy, 'app', '/');
      await page.goto(target);
      await signIn(page, user, { password: newPassword });
      await expectApplication(page, target);
      // The link is single use: a second new password through it is rejected.
      await page.goto(link);
      await page.getByLabel('New password', { exact: true }).fill(`${newPassword}-again`);
      await page.getByLabel('Repeat the new password').fill(`${newPassword}-again`);
      await page.getByRole('button', { name: 'Set password' }).click();
      await expect(page.getByRole('alert')).toHaveText(/\S/);
    });

    test('malicious rd with the sign-in form', async ({ profile }) => {
      const alice = USERS.alice;
      const page = await profile.open();
      for (const rd of ['https://evil.example.net/', `http://app.${proxy.domain}/`, 'javascript:alert(1)']) {
        await page.goto(`${proxy.portal}?rd=${encodeURIComponent(rd)}`);
        await signIn(page, alice);
        await page.waitForLoadState('networkidle');
        await expectPortal(page, proxy);
        await page.context().clearCookies();
      }
      const foreign = profile.requests.filter((url) => !new URL(url).hostname.endsWith(`.${proxy.domain}`));
      expect(foreign).toEqual([]);
    });
  });
}
