import { defineConfig } from 'vitest/config'

// End-to-end: the real GPU backend (onnxruntime-node, a tiny Würstchen v2 model compiled by `cascade make-tiny`)
// and the real edge Worker under `wrangler dev`, both started on loopback by test/e2e/stack.ts.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/stack.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
})
