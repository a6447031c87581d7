import { defineConfig } from 'vitest/config'

// Chaos, node half: real backends (onnxruntime-node on tiny make-tiny models) and the real edge under
// `wrangler dev`, on loopback ports 18900-18949, under hostile input, injected faults and overload. Each file
// starts and kills its own processes (test/chaos/node/harness.ts); files run one at a time so their processes
// do not compete for the CPU.
export default defineConfig({
  test: {
    include: ['test/chaos/node/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
