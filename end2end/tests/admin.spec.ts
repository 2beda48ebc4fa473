// The admin pages end to end in Chromium against the embedded default: an administrator with a
// TOTP second factor adds a user, finds that user's session in the list, disables the user, and the user's
// open session ends at once. E-mailed confirmation codes are read from the filesystem notifier's
// file in the server's data directory (GATEHOUSE_E2E_DATA, set by playwright.config.ts).
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
const portal = `http://auth.gatehouse.localhost:${port}`;
const password = process.env.GATEHOUSE_E2E_PASSWORD ?? 'e2e-password-0123';
const notifications = join(process.env.GATEHOUSE_E2E_DATA ?? '', 'notifications.txt');
// start-gatehouse.sh creates this user in the administrators' group.
const admin = { username: 'e2e-admin', address: 'e2e-admin@example.com' };

async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((violation) => `${violation.id}: ${violation.help}`)).toEqual([]);
}

/** Counts the messages of the notifier's file sent to `address`. */
function messageCount(address: string): number {
  return messagesTo(address).length;
}

function messagesTo(address: string): string[] {
  let text = '';
  try {
    text = readFileSync(notifications, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(/^(?=To: )/m)
    .filter((message) => message.split('\n', 1)[0].includes(`<${address}>`));
}

/** Clicks "Send a code", waits for the e-mail and confirms the code it carries. */
async function elevate(page: Page, address: string) {
  const before = messageCount(address);
  await page.getByRole('button', { name: 'Send a code' }).click();
  await expect(page.getByRole('status')).toHaveText(
    'A confirmation code was sent to your e-mail address.',
  );
  await expect.poll(() => messageCount(address), { timeout: 10_000 }).toBeGreaterThan(before);
  const lines = messagesTo(address)[before].split('\n');
  const index = lines.findIndex((line) => line.endsWith('Your code is:'));
  expect(index).toBeGreaterThanOrEqual(0);
  const code = lines.slice(index + 1).find((line) => line.trim() !== '')!.trim();
  await page.getByLabel('Confirmation code').fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
}

/** Decodes RFC 4648 base32 without padding. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** Computes the RFC 6238 code (HMAC-SHA1, 6 digits, 30 s steps) of `secret` at `step`. */
function totp(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const currentStep = () => Math.floor(Date.now() / 30_000);

async function signIn(page: Page, username: string) {
  await page.goto(`${portal}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // The password check runs argon2id with the embedded default's cost, slow in a debug build.
  await expect(page).toHaveURL(`${portal}/settings`, { timeout: 30_000 });
}

test('an administrator adds and disables a user, whose session ends', async ({ browser }) => {
  test.setTimeout(180_000);
  const adminPage = await (await browser.newContext()).newPage();
  // A hydration mismatch on the admin pages shows up as a page error or console error. Only the
  // admin pages are watched, and their 403 page, expected once before the second factor, is not
  // an error.
  const errors: string[] = [];
  const record = (text: string) => {
    if (adminPage.url().includes('/admin') && !text.includes('status of 403')) {
      errors.push(`${adminPage.url()}: ${text.slice(0, 200)}`);
    }
  };
  adminPage.on('pageerror', (error) => record(error.message));
  adminPage.on('console', (message) => {
    if (message.type() === 'error') record(message.text());
  });

  const { secret, step } = await test.step('the administrator enrols TOTP', async () => {
    await signIn(adminPage, admin.username);
    await adminPage.goto(`${portal}/admin/users`);
    await expect(adminPage.getByRole('heading', { name: 'Access denied' })).toBeVisible();

    await adminPage.goto(`${portal}/settings/two-factor`);
    await elevate(adminPage, admin.address);
    await adminPage.getByRole('button', { name: 'Add an authenticator app' }).click();
    const secret = (await adminPage.locator('code.secret').innerText()).trim();
    const step = currentStep();
    await adminPage.getByLabel('One-time code').fill(totp(secret, step));
    await adminPage.getByRole('button', { name: 'Verify' }).click();
    await expect(adminPage.getByRole('status')).toHaveText('The second factor was added.');
    return { secret, step };
  });

  await test.step('with the second factor the admin pages open', async () => {
    while (currentStep() <= step) await new Promise((resolve) => setTimeout(resolve, 500));
    await adminPage.goto(`${portal}/2fa`);
    await adminPage.getByLabel('One-time code').fill(totp(secret, currentStep()));
    await adminPage.getByRole('button', { name: 'Verify' }).click();
    await expect(adminPage).toHaveURL(`${portal}/settings`);

    await adminPage.goto(`${portal}/admin/users`);
    await expect(adminPage.getByRole('heading', { name: 'Users' })).toBeVisible();
    await expectAccessible(adminPage);
    // The elevation of the enrolment moved with the session to level two and is still valid,
    // so the page requests no code.
    await expect(adminPage.getByRole('button', { name: 'Send a code' })).toHaveCount(0);
  });

  await test.step('the administrator adds a user', async () => {
    await adminPage.getByLabel('Username').fill('e2e-created');
    await adminPage.getByLabel('Display name').last().fill('Created User');
    await adminPage.getByLabel('E-mail').last().fill('created@example.com');
    await adminPage.getByLabel('Groups (comma-separated)').last().fill('dev');
    await adminPage.getByLabel('Initial password').fill(password);
    await adminPage.getByRole('button', { name: 'Add user' }).click();
    await expect(adminPage.getByRole('status')).toHaveText('The user was added.');
    await expect(adminPage.getByRole('rowheader', { name: 'e2e-created' })).toBeVisible();
  });

  const userPage = await (await browser.newContext()).newPage();
  await test.step('the new user signs in, and the session is listed', async () => {
    await signIn(userPage, 'e2e-created');
    await adminPage.goto(`${portal}/admin/sessions`);
    await expect(adminPage.getByRole('rowheader', { name: 'e2e-created' })).toBeVisible();
    await expectAccessible(adminPage);
  });

  await test.step('disabling the user ends the session at once', async () => {
    await adminPage.goto(`${portal}/admin/users`);
    await adminPage.getByRole('button', { name: 'Disable e2e-created' }).click();
    await expect(adminPage.getByRole('status')).toHaveText('The user was changed.');
    await expect(adminPage.getByRole('button', { name: 'Enable e2e-created' })).toBeVisible();

    await userPage.goto(`${portal}/settings`);
    await expect(userPage).toHaveURL(/\/\?rd=/);
    await expect(userPage.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
    await adminPage.goto(`${portal}/admin/sessions`);
    await expect(adminPage.getByRole('rowheader', { name: 'e2e-created' })).toHaveCount(0);
  });

  expect(errors).toEqual([]);
  await userPage.context().close();
  await adminPage.context().close();
});
