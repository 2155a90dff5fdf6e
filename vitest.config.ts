import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: real servers and the tests that probe them share them.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // Property-based fuzzing of the decoders and the config loader: FUZZ_RUNS inputs each (npm run fuzz).
      { extends: true, test: { name: 'fuzz', include: ['test/fuzz/**/*.test.ts'], testTimeout: 0 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One DNS lab (unbound ×3 + knot, 127.53.0.x by default; take addresses from inject("dnsLab")) for every integration test; see test/lab/dns-lab.ts.
          globalSetup: ['test/lab/global-setup.ts'],
        },
      },
    ],
  },
});
