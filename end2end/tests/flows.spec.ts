// The portal's flows end to end in Chromium against the embedded default, with and without
// JavaScript: elevation by an e-mailed code, TOTP enrolment and sign-in with a computed code, and
// the password reset by e-mailed link. The e-mails are read from the filesystem notifier's file in
// the server's data directory (GATEHOUSE_E2E_DATA, set by playwright.config.ts).
import { createHmac } from 'node:crypto';

import { expect, test, type Browser, type Page } from '@playwright/test';

import {
  codeOf,
  expectAccessible,
  logOut,
  nextMessage,
  password,
  portal,
  signIn,
} from './support';

/** Returns the first URL in `message` that starts with `prefix`. */
function linkOf(message: string, prefix: string): string {
  const link = message.split(/\s+/).find((word) => word.startsWith(prefix));
  expect(link, message).toBeDefined();
  return link!;
}

/** Decodes RFC 4648 base32, ignoring padding and case. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`invalid base32 character ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** Computes the RFC 6238 code (HMAC-SHA1, 6 digits, 30 s steps) of `secret` for time `step`. */
function totp(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

function currentStep(): number {
  return Math.floor(Date.now() / 30_000);
}

/** Waits until the time step is after `step`, so that a code differs from the one used then. */
async function stepPast(step: number) {
  while (currentStep() <= step) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Elevates the session with an e-mailed code and enrols TOTP; returns the secret and the step
 * of the code that confirmed it. */
async function enrolTotp(
  page: Page,
  address: string,
  scripts: boolean,
): Promise<{ secret: string; step: number }> {
  await page.goto(`${portal}/settings/two-factor`);
  const message = await nextMessage(address, async () => {
    await page.getByRole('button', { name: 'Send a code' }).click();
    await expect(page.getByRole('status')).toHaveText(
      'A confirmation code was sent to your e-mail address.',
    );
  });
  expect(message).toContain(`${portal}/revoke/one-time-code?id=`);
  await page.getByLabel('Confirmation code').fill(codeOf(message));
  await page.getByRole('button', { name: 'Confirm' }).click();
  if (scripts) await expectAccessible(page);

  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  // axe runs as a script in the page, so it needs JavaScript.
  if (scripts) await expectAccessible(page);
  const secret = (await page.locator('code.secret').innerText()).trim();
  expect(secret).toMatch(/^[A-Z2-7]+=*$/);
  const step = currentStep();
  await page.getByLabel('One-time code').fill(totp(secret, step));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('status')).toHaveText('The second factor was added.');
  await expect(page.getByRole('button', { name: 'Remove the authenticator app' })).toBeVisible();
  return { secret, step };
}

/** Opens /2fa and submits `code`. */
async function submitSecondFactor(page: Page, code: string, hydrated: boolean) {
  await page.goto(`${portal}/2fa`);
  if (hydrated) await page.waitForLoadState('networkidle');
  await page.getByLabel('One-time code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
}

/** Requests a reset link for `username` and returns the link of the e-mail. */
async function requestReset(page: Page, username: string, address: string): Promise<string> {
  await page.goto(`${portal}/reset-password`);
  const message = await nextMessage(address, async () => {
    await page.getByLabel('Username or e-mail address').fill(username);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByRole('status')).toContainText('a reset link is on its way');
  });
  expect(message).toContain(`${portal}/revoke/reset-password?token=`);
  return linkOf(message, `${portal}/reset-password/step2?token=`);
}

async function newPage(browser: Browser, javaScriptEnabled: boolean): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled });
  return context.newPage();
}

test('elevation, TOTP enrolment and sign-in with a code', async ({ browser }) => {
  test.setTimeout(150_000);
  const page = await newPage(browser, true);
  const username = 'e2e-totp';
  const address = 'totp@example.com';

  await signIn(page, username, password, true);
  const { secret, step } = await enrolTotp(page, address, true);
  await logOut(page);

  await test.step('the second factor accepts a computed code', async () => {
    await signIn(page, username, password, true);
    await stepPast(step);
    const used = currentStep();
    await submitSecondFactor(page, totp(secret, used), true);
    await expect(page).toHaveURL(`${portal}/settings`);
    // Node cannot resolve *.localhost names, so the page itself asks for the session state.
    const state = await page.evaluate(async () => (await fetch('/api/state')).json());
    expect(state.data.authentication_level).toBe(2);
    await logOut(page);

    await signIn(page, username, password, true);
    await submitSecondFactor(page, totp(secret, used), true);
    await expect(page.getByRole('alert')).toHaveText(
      'The code is incorrect or was already used. Wait for a new code and try again.',
    );
    await expect(page).toHaveURL(`${portal}/2fa`);
  });

  await test.step('removing the authenticator app needs the elevated session', async () => {
    await page.goto(`${portal}/settings/two-factor`);
    await expect(page.getByRole('button', { name: 'Send a code' })).toBeVisible();
  });
  await page.context().close();
});

test('password reset by e-mailed link ends the old sessions', async ({ browser }) => {
  const username = 'e2e-reset';
  const address = 'reset@example.com';
  const newPassword = 'a-brand-new-passphrase-42';
  const signedIn = await newPage(browser, true);
  await signIn(signedIn, username, password, true);

  const page = await newPage(browser, true);
  const link = await requestReset(page, username, address);
  await page.goto(link);
  // Only the sign-in page marks its hydration; the others have loaded their code when the
  // network is idle.
  await page.waitForLoadState('networkidle');
  await expectAccessible(page);
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(`${portal}/?notice=password-changed`);
  await expect(page.getByRole('status')).toHaveText('Your password was changed.');

  await signedIn.goto(`${portal}/settings`);
  await expect(signedIn).toHaveURL(`${portal}/?rd=${encodeURIComponent(`${portal}/settings`)}`);

  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill('yet-another-passphrase-43');
  await page.getByLabel('Repeat the new password').fill('yet-another-passphrase-43');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('alert')).toHaveText(
    'The link is invalid or expired. Request a new one.',
  );

  await signIn(page, username, newPassword, true);
  await signedIn.context().close();
  await page.context().close();
});

test('revoke links show a button and revoke only on its post', async ({ browser }) => {
  const page = await newPage(browser, true);
  const link = await requestReset(page, 'e2e-user', 'e2e@example.com');
  const token = new URL(link).searchParams.get('token');
  await page.goto(`${portal}/revoke/reset-password?token=${token}`);
  await expectAccessible(page);
  await page.goto(`${portal}/revoke/reset-password?token=${token}`);
  await page.getByRole('button', { name: 'Cancel the reset link' }).click();
  await expect(page).toHaveURL(`${portal}/revoke/reset-password?notice=link-revoked`);
  await expect(page.getByRole('status')).toHaveText(
    'The reset link was cancelled and can no longer be used.',
  );
  await expectAccessible(page);

  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill('never-used-passphrase-44');
  await page.getByLabel('Repeat the new password').fill('never-used-passphrase-44');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('alert')).toHaveText(
    'The link is invalid or expired. Request a new one.',
  );
  await page.context().close();
});

test('the flows work without JavaScript', async ({ browser }) => {
  test.setTimeout(150_000);
  const page = await newPage(browser, false);
  const username = 'e2e-nojs';
  const address = 'nojs@example.com';
  const newPassword = 'a-script-free-passphrase-45';

  await signIn(page, username, password, false);
  const { secret, step } = await enrolTotp(page, address, false);
  await logOut(page);
  await signIn(page, username, password, false);
  await stepPast(step);
  await submitSecondFactor(page, totp(secret, currentStep()), false);
  await expect(page).toHaveURL(`${portal}/settings`);

  const link = await requestReset(page, username, address);
  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill('a-different-passphrase-46');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(`${portal}/reset-password/step2?error=password-mismatch`);
  await expect(page.getByRole('alert')).toHaveText('The two new passwords differ.');
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(`${portal}/?notice=password-changed`);

  await page.goto(`${portal}/settings`);
  await expect(page).toHaveURL(`${portal}/?rd=${encodeURIComponent(`${portal}/settings`)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(newPassword);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(`${portal}/settings`);
  await page.context().close();
});
