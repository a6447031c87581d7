declare namespace Cloudflare {
  interface Env extends import('../../edge/src/env.ts').Bindings {}
}
