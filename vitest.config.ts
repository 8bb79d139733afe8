import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['server/src/**/*.test.ts', 'slack-app/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores on CI: e2e suites spawn gateways and upstream processes.
    maxWorkers: 2,
    // expect.poll waits for something the code does by itself (a job's database writes, a process's answer); on two
    // busy cores that can take longer than the default second. A passing poll returns as soon as it holds.
    expect: { poll: { timeout: 10_000 } },
  },
});
