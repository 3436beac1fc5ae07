import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // An unhandled rejection anywhere fails the run (the fault suite asserts this flag is on).
    execArgv: ['--unhandled-rejections=strict', '--expose-gc'],
    // CI reads the JSON report to print a closing "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: 'test-results.json' } : undefined,
  },
});
