import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Processes a test file started are stopped when it ends, even after a failure.
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Several suites start child processes; two cores do not gain from more workers.
    maxWorkers: 2,
    // A test whose checks all sit in a loop over an empty list fails instead of passing silently.
    expect: { requireAssertions: true },
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'coverage/test-results.json' },
  },
});
