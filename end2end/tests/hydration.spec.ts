import { expect, test } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
// Pages are served only for the configured portal host, the embedded default's here.
const portal = `http://auth.gatehouse.localhost:${port}`;

test('sign-in page renders on the server and hydrates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });

  // Without JavaScript the server's HTML already has the form.
  const response = await page.goto(`${portal}/`);
  expect(response?.status()).toBe(200);
  const html = (await response?.text()) ?? '';
  expect(html).toContain('<label for="username">Username</label>');
  expect(html).toContain('data-hydrated="false"');

  await expect(page.getByLabel('Username')).toBeVisible();
  await expect(page.getByLabel('Password')).toBeVisible();
  await expect(page.getByLabel('Remember me')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  // The effect that flips this attribute runs only in the browser, after hydration.
  await expect(page.locator('[data-hydrated="true"]')).toHaveText('Interactive.', { timeout: 30_000 });
  expect(errors).toEqual([]);
});
