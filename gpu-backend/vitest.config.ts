import { defineConfig } from 'vitest/config'

// Node-side unit tests of the backend (compiler, weights, runtime), beside the code.
export default defineConfig({
  test: {
    include: ['gpu-backend/src/**/*.test.ts', 'gpu-backend/test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
