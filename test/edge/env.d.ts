// Types `env` from cloudflare:test with the worker's bindings.
import type { Bindings } from '../../edge/src/env.ts'

declare global {
  namespace Cloudflare {
    // biome-ignore lint/suspicious/noEmptyInterface: declaration merging with the bindings
    interface Env extends Bindings {}
  }
}
