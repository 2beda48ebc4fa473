// The specs' fixtures. Each spec gets the environment the global set-up started, a Chromium
// profile of its own (closed and reopened to model a browser restart) and numbered screenshots of
// its pages. When a spec fails, its page's screenshot and Gatehouse's log go to the artifacts.
import fs from 'node:fs';
import path from 'node:path';

import { BrowserContext, Page, TestInfo, chromium, test as base, expect } from '@playwright/test';

import { ENVIRONMENT_VARIABLE, Environment, PROXIES } from './topology';

export { expect };

/** Maps every name under the suite's cookie domains to its proxy; every other name fails to resolve. */
const HOST_RESOLVER_RULES = [
  ...PROXIES.map((proxy) => `MAP *.${proxy.domain} ${proxy.address}`),
  'MAP * ~NOTFOUND',
].join(', ');

/** A Chromium profile on disk: the browser can be closed and started again on it. */
export class BrowserProfile {
  context: BrowserContext | undefined;
  /** Every URL the browser requested, in order, across restarts. */
  readonly requests: string[] = [];

  constructor(
    readonly directory: string,
    private readonly environment: Environment,
  ) {}

  /** Starts Chromium on the profile and returns its first page. */
  async open(): Promise<Page> {
    if (this.context) throw new Error('the browser is already open on this profile');
    this.context = await chromium.launchPersistentContext(this.directory, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      // Chromium on Linux reads trusted CAs from $HOME/.pki/nssdb.
      env: { ...process.env, HOME: this.environment.browserHome } as Record<string, string>,
      args: [
        `--host-resolver-rules=${HOST_RESOLVER_RULES}`,
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1000, height: 700 },
    });
    this.context.on('request', (request) => this.requests.push(request.url()));
    return this.context.pages()[0] ?? (await this.context.newPage());
  }

  /** Returns the open browser's current page. */
  page(): Page {
    const page = this.context?.pages().at(-1);
    if (!page) throw new Error('the browser is not open');
    return page;
  }

  /** Closes the browser the way a person quits it; cookies without an expiry end with it. */
  async close(): Promise<void> {
    await this.context?.close();
    this.context = undefined;
  }

  /** Quits the browser and starts it again on the same profile. */
  async restart(): Promise<Page> {
    await this.close();
    return this.open();
  }
}

/** Writes numbered screenshots of the spec's pages to the artifacts directory. */
export class Screenshots {
  private count = 0;

  constructor(readonly directory: string) {}

  async take(page: Page, name: string): Promise<void> {
    this.count += 1;
    const file = path.join(this.directory, `${String(this.count).padStart(2, '0')}-${slug(name)}.png`);
    await page.screenshot({ path: file, fullPage: true });
  }
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

function readEnvironment(): Environment {
  const file = process.env[ENVIRONMENT_VARIABLE];
  if (!file) throw new Error(`${ENVIRONMENT_VARIABLE} is not set: run the specs with proxy.config.ts`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Environment;
}

function testSlug(testInfo: TestInfo): string {
  return slug(testInfo.titlePath.slice(1).join(' '));
}

export const test = base.extend<{ environment: Environment; profile: BrowserProfile; screenshots: Screenshots }>({
  environment: async ({}, use) => {
    await use(readEnvironment());
  },

  screenshots: async ({ environment }, use, testInfo) => {
    const directory = path.join(environment.artifacts, 'screenshots', testSlug(testInfo));
    fs.mkdirSync(directory, { recursive: true });
    await use(new Screenshots(directory));
  },

  profile: async ({ environment }, use, testInfo) => {
    const directory = fs.mkdtempSync(path.join(environment.runDirectory, 'profile-'));
    const profile = new BrowserProfile(directory, environment);
    await use(profile);

    if (testInfo.status !== testInfo.expectedStatus) {
      await keepFailureEvidence(profile, environment, testInfo);
    }
    await profile.close();
  },
});

/** Saves the failing page's screenshot and Gatehouse's log beside the other artifacts, and attaches both. */
async function keepFailureEvidence(profile: BrowserProfile, environment: Environment, testInfo: TestInfo): Promise<void> {
  const directory = path.join(environment.artifacts, 'failures', testSlug(testInfo));
  fs.mkdirSync(directory, { recursive: true });
  const pages = profile.context?.pages() ?? [];
  for (const [index, page] of pages.entries()) {
    const file = path.join(directory, `page-${index + 1}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      await testInfo.attach(`page ${index + 1} (${page.url()})`, { path: file, contentType: 'image/png' });
    } catch (error) {
      fs.writeFileSync(`${file}.error.txt`, String(error));
    }
  }
  const log = path.join(directory, 'gatehouse.log');
  fs.copyFileSync(environment.gatehouseLog, log);
  await testInfo.attach('gatehouse.log', { path: log, contentType: 'text/plain' });
  fs.writeFileSync(path.join(directory, 'requests.txt'), profile.requests.join('\n'));
  console.error(`proxy suite: evidence of the failure in ${directory}`);
}
