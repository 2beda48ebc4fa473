// The proxy suite: Chromium, nginx and Caddy in front of Gatehouse and an echo application, all
// started by proxy/support/global-setup.ts. Each spec opens its own Chromium profile (see
// proxy/support/fixtures.ts), so this configuration launches no browser itself.
import { defineConfig } from '@playwright/test';

const database = process.env.GATEHOUSE_E2E_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
const artifacts = process.env.GATEHOUSE_E2E_PROXY_ARTIFACTS ?? `../artifacts/end2end-proxy/${database}`;

export default defineConfig({
  testDir: './proxy',
  testMatch: '*.spec.ts',
  outputDir: `${artifacts}/results`,
  globalSetup: './proxy/support/global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  retries: 0,
  // One Gatehouse, one set of users: the specs run one after another.
  workers: 1,
  reporter: [['list']],
});
