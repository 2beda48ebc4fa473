// The portal's pages in Chromium against the embedded default: sign in with a password, sign out,
// and an accessibility check (axe) of each page. start-gatehouse.sh creates the user.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
// The embedded default's portal host; Chromium resolves every *.localhost name to loopback.
const portal = `http://auth.gatehouse.localhost:${port}`;
const username = 'e2e-user';
const password = process.env.GATEHOUSE_E2E_PASSWORD ?? 'e2e-password-0123';

async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((violation) => `${violation.id}: ${violation.help}`)).toEqual([]);
}

async function signIn(page: Page, secret: string) {
  await page.goto(`${portal}/`);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible({ timeout: 30_000 });
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(secret);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('password sign-in, settings and sign-out', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // The browser logs the 401 of the wrong password on purpose below; anything else is a fault.
    const expected = message.text().includes('status of 401');
    if (message.type() === 'error' && !expected) errors.push(message.text());
  });

  await test.step('a wrong password shows an error in place', async () => {
    await signIn(page, 'not-the-password');
    await expect(page.getByRole('alert')).toHaveText('Incorrect username or password.');
    await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
    await expect(page).toHaveURL(`${portal}/`);
  });

  await test.step('the sign-in page is accessible', async () => {
    await expectAccessible(page);
  });

  await test.step('the right password leads to the settings', async () => {
    await signIn(page, password);
    await expect(page).toHaveURL(`${portal}/settings`);
    await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
    await expect(page.getByText('e2e@example.com')).toBeVisible();
    await expectAccessible(page);
  });

  await test.step('the second-factor settings ask for a confirmation code', async () => {
    await page.goto(`${portal}/settings/two-factor`);
    await expect(page.getByLabel('Confirmation code')).toBeVisible();
    await expectAccessible(page);
  });

  await test.step('logging out needs the button', async () => {
    await page.goto(`${portal}/logout`);
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(`${portal}/`);
    await page.goto(`${portal}/settings`);
    await expect(page).toHaveURL(`${portal}/?rd=${encodeURIComponent(`${portal}/settings`)}`);
  });

  await test.step('the reset pages are accessible', async () => {
    await page.goto(`${portal}/reset-password`);
    await expectAccessible(page);
  });

  expect(errors).toEqual([]);
});

test('sign-in works without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${portal}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(`${portal}/settings`);
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await context.close();
});
