// Security keys and passkeys on the portal's pages, in Chromium with the DevTools protocol's
// virtual authenticator (a CTAP2 platform authenticator that stores discoverable credentials and
// verifies the user without a person present). The embedded default runs with passkey login
// turned on by start-gatehouse.sh.
import { expect, test, type BrowserContext, type CDPSession, type Page } from '@playwright/test';

import {
  codeOf,
  expectAccessible,
  logOut,
  nextMessage,
  password,
  portal,
  signIn,
} from './support';

const username = 'e2e-key';
const address = 'key@example.com';
const deviceName = 'Test key';

interface Authenticator {
  session: CDPSession;
  authenticatorId: string;
}

async function addAuthenticator(context: BrowserContext, page: Page): Promise<Authenticator> {
  const session = await context.newCDPSession(page);
  await session.send('WebAuthn.enable');
  const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { session, authenticatorId };
}

async function credentialsOf(authenticator: Authenticator) {
  const { credentials } = await authenticator.session.send('WebAuthn.getCredentials', {
    authenticatorId: authenticator.authenticatorId,
  });
  return credentials;
}

/** Returns the portal's session state, read by the page itself because Node cannot resolve
 * *.localhost names. */
async function sessionState(page: Page): Promise<{
  username: string;
  authentication_level: number;
  factor_knowledge: boolean;
}> {
  const state = await page.evaluate(async () => (await fetch('/api/state')).json());
  return state.data;
}

/** Opens the second-factor settings and elevates the session with the e-mailed code. */
async function elevate(page: Page) {
  await page.goto(`${portal}/settings/two-factor`);
  await page.waitForLoadState('networkidle');
  const message = await nextMessage(address, async () => {
    await page.getByRole('button', { name: 'Send a code' }).click();
    await expect(page.getByRole('status')).toHaveText(
      'A confirmation code was sent to your e-mail address.',
    );
  });
  await page.getByLabel('Confirmation code').fill(codeOf(message));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByLabel('Device name')).toBeVisible();
}

test('security key and passkey: register, second factor, passkey login, removal', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const context = await browser.newContext();
  const page = await context.newPage();
  const authenticator = await addAuthenticator(context, page);
  const settingsUrl = `${portal}/settings/two-factor`;

  await test.step('register a key with a device name on the elevated settings page', async () => {
    await signIn(page, username, password, true);
    await elevate(page);
    await expectAccessible(page);
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Add security key' }).click();
    await expect(page).toHaveURL(`${settingsUrl}?notice=factor-added`);
    await expect(page.getByRole('status')).toHaveText('The second factor was added.');
    const item = page.locator('.credential-list__item');
    await expect(item).toHaveCount(1);
    await expect(item.locator('.credential-list__name')).toHaveText(deviceName);
    await expect(item).toContainText(/Added \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC, last used never/);
    const stored = await credentialsOf(authenticator);
    expect(stored).toHaveLength(1);
    expect(stored[0].isResidentCredential).toBe(true);
    await expectAccessible(page);
  });

  await test.step('with a key registered, changes wait for the second factor', async () => {
    await page.getByLabel('Device name').fill('Another key');
    await page.getByRole('button', { name: 'Add security key' }).click();
    await expect(page.locator('#add-key-error')).toHaveText(
      'You have a second factor, so use it first: sign in again with it, then retry.',
    );
    expect(await credentialsOf(authenticator)).toHaveLength(1);
  });

  await test.step('the key is the second factor after the password', async () => {
    await logOut(page);
    await signIn(page, username, password, true);
    expect((await sessionState(page)).authentication_level).toBe(1);
    const target = `${portal}/settings/two-factor`;
    await page.goto(`${portal}/2fa?rd=${encodeURIComponent(target)}`);
    await expect(page.getByRole('listitem').filter({ hasText: 'Security key or passkey' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Use security key' })).toBeVisible();
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Use security key' }).click();
    await expect(page).toHaveURL(target);
    const state = await sessionState(page);
    expect(state.username).toBe(username);
    expect(state.authentication_level).toBe(2);
    await expect(page.locator('.credential-list__item')).toContainText(/last used \d{4}-/);
  });

  await test.step('without JavaScript /2fa says the key needs it', async () => {
    const scriptless = await browser.newContext({ javaScriptEnabled: false });
    const other = await scriptless.newPage();
    await signIn(other, username, password, false);
    await other.goto(`${portal}/2fa`);
    await expect(other.getByText('Using a security key needs JavaScript.')).toBeVisible();
    await expect(other.getByRole('button', { name: 'Use security key' })).toBeHidden();
    await scriptless.close();
  });

  await test.step('a passkey signs in from the sign-in page, the password completes it', async () => {
    await logOut(page);
    await expect(page.locator('[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page).toHaveURL(`${portal}/settings`);
    let state = await sessionState(page);
    expect(state.username).toBe(username);
    expect(state.authentication_level).toBe(1);
    expect(state.factor_knowledge).toBe(false);

    await page.goto(`${portal}/2fa`);
    await page.waitForLoadState('networkidle');
    await expect(page.getByText('You signed in with a passkey')).toBeVisible();
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.locator('#password-error')).toHaveText('Incorrect username or password.');
    await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(`${portal}/settings`);
    state = await sessionState(page);
    expect(state.authentication_level).toBe(2);
    expect(state.factor_knowledge).toBe(true);
  });

  await test.step('after the second factor, a code elevates: name check, rename, removal', async () => {
    await elevate(page);
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Add security key' }).click();
    await expect(page.locator('#add-key-error')).toHaveText(
      'You already have a security key with this device name.',
    );
    await expect(page.getByLabel('Device name')).toHaveAttribute('aria-invalid', 'true');
    expect(await credentialsOf(authenticator)).toHaveLength(1);

    await page.getByText('Rename', { exact: true }).click();
    await page.getByLabel('New name').fill('Renamed key');
    await page.getByRole('button', { name: 'Save name' }).click();
    await expect(page.getByRole('status')).toHaveText('The security key was renamed.');
    await expect(page.locator('.credential-list__name')).toHaveText('Renamed key');
    await page.getByRole('button', { name: 'Remove Renamed key' }).click();
    await expect(page.getByRole('status')).toHaveText('The second factor was removed.');
    await expect(page.locator('.credential-list__item')).toHaveCount(0);
    await expect(page).toHaveURL(settingsUrl);
    await page.reload();
    await expect(page.getByText('No security key or passkey is registered.')).toBeVisible();
  });

  await test.step('the removed key no longer signs in', async () => {
    await logOut(page);
    await expect(page.locator('[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page.locator('#sign-in-error')).toHaveText(
      'The passkey was not accepted. Try again or sign in with your password.',
    );
    await expect(page.getByLabel('Username')).not.toHaveAttribute('aria-invalid', 'true');
    expect((await sessionState(page)).authentication_level).toBe(0);
  });
  await context.close();
});
