import { defineConfig } from 'vitest/config'

// Parity suite: our ONNX graphs against the official PyTorch golden vectors (GOLDEN_DIR, default test/golden).
export default defineConfig({
  test: {
    include: ['test/parity/**/*.test.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
