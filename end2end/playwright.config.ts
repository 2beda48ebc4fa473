// Browser tests of the portal, with Debian's Chromium (Playwright cannot download its own here).
import { defineConfig } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 19091);
const artifacts = process.env.GATEHOUSE_E2E_ARTIFACTS ?? '../artifacts/end2end';

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
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
