// Steps the browser tests share: the portal's address, the e-mails of the filesystem notifier
// (read from GATEHOUSE_E2E_DATA, set by playwright.config.ts), sign-in, logout and the
// accessibility check.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

export const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
export const portal = `http://auth.gatehouse.localhost:${port}`;
export const password = process.env.GATEHOUSE_E2E_PASSWORD ?? 'e2e-password-0123';
const notifications = join(process.env.GATEHOUSE_E2E_DATA ?? '', 'notifications.txt');

export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((violation) => `${violation.id}: ${violation.help}`)).toEqual([]);
}

/** Returns the messages of the notifier's file sent to `address`, oldest first. */
export function messagesTo(address: string): string[] {
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

/** Runs `action`, then waits for the next message to `address` and returns it. */
export async function nextMessage(address: string, action: () => Promise<void>): Promise<string> {
  const before = messagesTo(address).length;
  await action();
  await expect.poll(() => messagesTo(address).length, { timeout: 10_000 }).toBeGreaterThan(before);
  return messagesTo(address)[before];
}

/** Returns the one-time code of an elevation e-mail: the line after "Your code is:". */
export function codeOf(message: string): string {
  const lines = message.split('\n');
  const index = lines.findIndex((line) => line.endsWith('Your code is:'));
  expect(index, message).toBeGreaterThanOrEqual(0);
  return lines.slice(index + 1).find((line) => line.trim() !== '')!.trim();
}

export async function signIn(page: Page, username: string, secret: string, hydrated: boolean) {
  await page.goto(`${portal}/`);
  if (hydrated) {
    await expect(page.locator('[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
  }
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(secret);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(`${portal}/settings`);
}

export async function logOut(page: Page) {
  await page.goto(`${portal}/logout`);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(`${portal}/`);
}
