// Steps that use the portal's JSON API from inside the browser, on the portal's own origin, as
// the portal's scripts do. The cookie the API sets is then the browser's own.
import { Page } from '@playwright/test';

import { Proxy } from './topology';

export interface ApiReply {
  status: number;
  body: { status?: string; message?: string; data?: Record<string, unknown> };
}

/** Sends a JSON request from `page`, which must show a portal page; returns status and body. */
export async function callPortalApi(page: Page, method: string, path: string, payload?: unknown): Promise<ApiReply> {
  return page.evaluate(
    async ({ method, path, payload }) => {
      const response = await fetch(path, {
        method,
        headers: payload === undefined ? {} : { 'Content-Type': 'application/json' },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        credentials: 'same-origin',
      });
      const text = await response.text();
      let body = {};
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text };
      }
      return { status: response.status, body };
    },
    { method, path, payload },
  );
}

/** Opens the portal (with `rd` when given) and returns the page. */
export async function openPortal(page: Page, proxy: Proxy, rd?: string): Promise<void> {
  const url = new URL(proxy.portal);
  if (rd !== undefined) url.searchParams.set('rd', rd);
  await page.goto(url.href);
}

/** Logs in with the first-factor API; `targetURL` is the `rd` the portal was opened with. */
export async function firstFactor(
  page: Page,
  username: string,
  password: string,
  options: { rememberMe?: boolean; targetURL?: string } = {},
): Promise<ApiReply> {
  return callPortalApi(page, 'POST', '/api/firstfactor', {
    username,
    password,
    keepMeLoggedIn: options.rememberMe ?? false,
    ...(options.targetURL === undefined ? {} : { targetURL: options.targetURL, requestMethod: 'GET' }),
  });
}

/** Sends a TOTP code with the second-factor API. */
export async function secondFactorTotp(page: Page, code: string, targetURL?: string): Promise<ApiReply> {
  return callPortalApi(page, 'POST', '/api/secondfactor/totp', { token: code, ...(targetURL ? { targetURL } : {}) });
}

/** Returns the `rd` parameter of the page's URL. */
export function rdOf(page: Page): string | null {
  return new URL(page.url()).searchParams.get('rd');
}

/** Returns what the echo application received, read from its page. */
export async function echoedRequest(page: Page): Promise<{ url: string; headers: [string, string][] }> {
  return JSON.parse(await page.locator('#echo').innerText());
}

/** Returns every value of `name` in what the echo application received. */
export async function echoedHeader(page: Page, name: string): Promise<string[]> {
  const { headers } = await echoedRequest(page);
  return headers.filter(([header]) => header === name.toLowerCase()).map(([, value]) => value);
}
