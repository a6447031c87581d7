// Edge tests run inside workerd (@cloudflare/vitest-plugin) against the root wrangler.toml with local R2, KV,
// Durable Objects, rate limiting and Cache API. The GPU backend is the Node stand-in in test/edge-backend
// (ports 18788-18789; 18790: nothing listens).
import { defineConfig } from 'vitest/config'
import { STAND_IN_PORTS } from '../test/edge-backend/stand-in.ts'
import { edgeInWorkerd, root } from '../test/edge-backend/workerd.ts'

export default defineConfig({
  plugins: [
    edgeInWorkerd({
      standInPorts: STAND_IN_PORTS,
      tierLimits: { free: { burst: 10, daily: 1000, read: 300 }, pro: { burst: 60, daily: 3, read: 3000 } },
    }),
  ],
  root,
  test: {
    include: ['shared/src/**/*.test.ts', 'test/edge/**/*.test.ts', 'edge/src/**/*.test.ts'],
    globalSetup: ['test/edge-backend/stand-in.ts'],
    testTimeout: 30_000,
    // Cancelling a job aborts the backend fetch mid-body (which is what tells the backend to stop). The code
    // handles that rejection, but workerd also rejects its internal body read with the same AbortError and
    // reports it as unhandled in the test isolate. Only that exact error is ignored; anything else still fails.
    onUnhandledError: (error) =>
      !(
        error.name === 'AbortError' &&
        error.message === 'The operation was aborted' &&
        /readStream/.test(error.stack ?? '')
      ),
  },
})
