// Chaos suite, edge half: fuzzing, load and security tests in workerd (@cloudflare/vitest-plugin) against the root
// wrangler.toml with local R2, KV, Durable Objects, rate limiting and Cache API, like edge/vitest.config.ts. Its
// own stand-in backend listens on 18810-18811 (18812: nothing listens), so it never collides with the edge suite.
//
// Limits differ from production on purpose: the read limits and the generation burst limits are far above what the
// tests send, so a 429 never masks a validation answer or the exact daily quota (free: 10 a day, pro: 3 a day),
// which is what load.test.ts and security.test.ts exhaust.
import { defineConfig } from 'vitest/config'
import { edgeInWorkerd, root } from '../edge-backend/workerd.ts'

const standInPorts = [18810, 18811]

const BURST = 10_000
const READ = 1_000_000
// The same bindings (and namespaces) as wrangler.toml's [[ratelimits]], with other limits.
const limit = (namespace_id: string, limit: number) => ({
  namespace_id,
  simple: { limit, period: 60 as const },
})

export default defineConfig({
  plugins: [
    edgeInWorkerd({
      standInPorts,
      tierLimits: {
        free: { burst: BURST, daily: 10, read: READ },
        pro: { burst: BURST, daily: 3, read: READ },
      },
      ratelimits: {
        RL_FREE_GENERATE: limit('1001', BURST),
        RL_PRO_GENERATE: limit('1002', BURST),
        RL_FREE_READ: limit('1003', READ),
        RL_PRO_READ: limit('1004', READ),
      },
    }),
  ],
  root,
  test: {
    include: ['test/chaos/edge/**/*.test.ts'],
    globalSetup: ['test/edge-backend/stand-in.ts'],
    provide: { standInPorts },
    // The fuzz file asserts that the backend saw no generation at all, so files must not overlap in time.
    fileParallelism: false,
    testTimeout: 120_000,
  },
})
