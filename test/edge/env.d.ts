// Types `env` from cloudflare:test with the worker's bindings.
import type { Bindings } from '../../edge/src/env.ts'

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {}
  }
}
