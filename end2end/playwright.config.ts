// Browser tests of the portal, with Debian's Chromium (Playwright cannot download its own here).
import { defineConfig } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
const artifacts = process.env.GATEHOUSE_E2E_ARTIFACTS ?? '../artifacts/end2end';
// The server's data directory, where the tests read the e-mails of the filesystem notifier. It is
// fixed per port because Playwright evaluates this file again in each worker process.
process.env.GATEHOUSE_E2E_DATA ??= `/tmp/gatehouse-e2e-${port}`;

export default defineConfig({
  testDir: './tests',
  outputDir: `${artifacts}/results`,
  timeout: 60_000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `./start-gatehouse.sh ${port}`,
    env: { GATEHOUSE_E2E_DATA: process.env.GATEHOUSE_E2E_DATA },
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
