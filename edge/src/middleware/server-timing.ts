// Server-Timing on every response: entries added by routes (`cache`, `backend`, `r2`, the backend's own
// stages as `backend-<name>`) plus `total`. In workerd the clock only advances across I/O, which is what we time.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'

export class ServerTiming {
  readonly #start = Date.now()
  readonly #entries: string[] = []

  add(name: string, durMs: number, desc?: string): void {
    this.#entries.push(`${name};dur=${Math.max(0, Math.round(durMs))}${desc ? `;desc="${desc}"` : ''}`)
  }

  /** Times `work` under `name`. (A Workers RPC promise is also callable, so no function overload here.) */
  async time<T>(name: string, work: PromiseLike<T>): Promise<T> {
    const t0 = Date.now()
    try {
      return await work
    } finally {
      this.add(name, Date.now() - t0)
    }
  }

  /** Re-emits a backend Server-Timing header's entries with a `backend-` prefix. */
  addUpstream(header: string | null | undefined): void {
    if (!header) return
    for (const part of header.split(',')) {
      const item = part.trim()
      if (/^[\w-]+(;|$)/.test(item)) this.#entries.push(`backend-${item}`)
    }
  }

  header(): string {
    return [...this.#entries, `total;dur=${Date.now() - this.#start}`].join(', ')
  }
}

export function serverTiming(): MiddlewareHandler<AppEnv> {
  return async function serverTimingMiddleware(c, next) {
    const timing = new ServerTiming()
    c.set('timing', timing)
    await next()
    c.res.headers.set('Server-Timing', timing.header())
  }
}
