// GET /metrics: the backend pool in Prometheus text, for an autoscaler. It reads every backend's /readyz (as the
// queue consumer does) and the jobs queue's backlog; `cascade_pool_pending_jobs` (waiting in the backends' queues
// plus waiting in the jobs queue) is the figure to scale on. Operator-only: it answers a bearer METRICS_TOKEN and
// does not exist without one (the pool is internal), so it sits outside the API's auth and rate limits.
import type { Hono } from 'hono'
import { sha256Hex } from '../../../shared/src/index.ts'
import { probePool } from '../backend/pool.ts'
import { backendUrls } from '../config.ts'
import type { AppEnv } from '../env.ts'

export function registerPoolMetrics(app: Hono<AppEnv>): void {
  app.get('/metrics', async (c, next) => {
    const token = c.env.METRICS_TOKEN
    const given = /^Bearer (.+)$/i.exec(c.req.header('Authorization') ?? '')?.[1] ?? ''
    // Hashes compared, not the strings: the comparison's time says nothing about the token.
    if (!token || (await sha256Hex(given)) !== (await sha256Hex(token))) return next()
    const [pool, backlog] = await Promise.all([probePool(backendUrls(c.env)), queueBacklog(c.env.JOB_QUEUE)])
    const t = pool.totals()
    const lines = [
      gauge('cascade_pool_backends', 'Backends configured (BACKEND_URLS)', t.backends),
      gauge('cascade_pool_backends_ready', 'Backends whose /readyz answered ready', t.ready),
      gauge('cascade_pool_free_slots', 'Jobs the ready backends would admit now, summed', t.free_slots),
      gauge('cascade_pool_queue_depth', "Jobs waiting in the backends' queues, summed", t.queue_depth),
      gauge('cascade_pool_running', 'Jobs running on the backends, summed', t.running),
      gauge('cascade_jobs_queue_backlog', 'Jobs accepted and waiting in the jobs queue', backlog),
      gauge(
        'cascade_pool_pending_jobs',
        "Jobs waiting for a GPU: the backends' queues plus the jobs queue (scale on this)",
        t.queue_depth + backlog,
      ),
    ]
    return c.text(`${lines.join('\n')}\n`, 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Cache-Control': 'no-store',
    })
  })
}

const gauge = (name: string, help: string, v: number) =>
  `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}`

async function queueBacklog(queue: Queue | undefined): Promise<number> {
  if (!queue) return 0
  try {
    return (await queue.metrics()).backlogCount
  } catch {
    return 0
  }
}
