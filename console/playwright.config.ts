import { defineConfig } from '@playwright/test'

// End-to-end tests of the console in Debian's Chromium (/usr/bin/chromium; Playwright never
// downloads a browser here). tests/e2e/test_console.py starts the API + worker on a database
// of their own and runs this suite with CONSOLE_BASE_URL set.
const artifacts = process.env.CONSOLE_ARTIFACTS || 'test-artifacts'

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: `${artifacts}/results`,
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.CONSOLE_BASE_URL || 'http://127.0.0.1:8000',
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
    // the browser's own zone is UTC: times on screen must still be Asia/Shanghai
    timezoneId: 'UTC',
    acceptDownloads: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
})
