// Jobs queue benchmark: `npx tsx bench/edge-queue.ts`. Never run by npm test.
// The edge under `wrangler dev` (its simulated jobs queue, rate limits raised so they never answer 429) in front of
// stand-in backends (test/edge-backend/pool-stand-in.ts, in this process) that each run CAPACITY jobs at once for
// SERVICE_MS each and let DEPTH more wait, on loopback. Every job is followed over SSE to its last event.
//   throughput  jobs/s through the edge with 4 backends against 1: a closed loop keeps four times the pool's
//               capacity of jobs outstanding (fewer leave the local queue's one-batch-at-a-time consumer short of
//               work at a batch's end, which costs a small pool most); after a warm-up, the work the pool does for it in a window (its busy
//               slot-seconds over the service time: jobs complete in waves, so counting whole jobs in a window
//               is off by up to a wave), in interleaved rounds; every job must succeed
//   burst       10x the pool's capacity submitted at once, with the jobs queue and without it (today's direct
//               dispatch: a busy pool fails the job): completed, lost, generated twice, p99 completion
//   fault       the same burst with the queue; one backend is killed mid-burst (its connections cut) and started
//               again on its port: lost jobs, images generated twice, quota charged per job
import { type PoolStandIn, startPoolStandIn } from '../test/edge-backend/pool-stand-in.ts'
import { dailyLeftAfter, type Outcome, quantile, runJob, tally } from '../test/support/jobs-client.ts'
import { startEdge, stopAll, waitFor } from '../test/support/processes.ts'
import { wranglerConfig } from '../test/support/wrangler-config.ts'
import { type Ratio, report } from './lib/report.ts'

const SECRET = 'bench-queue-secret'
const CAPACITY = 2
const DEPTH = 2
const SERVICE_MS = Number(process.env.BENCH_SERVICE_MS ?? 2000)
const WARM_MS = 2 * SERVICE_MS
const WINDOW_MS = 8 * SERVICE_MS
const ROUNDS = 2
const DAILY = 1_000_000_000
const HOLDS = CAPACITY + DEPTH
/** Jobs kept in flight in the throughput runs, in multiples of what the pool holds. */
const OUTSTANDING = 4
const PORTS = [18970, 18971, 18972, 18973]
const SOLO_PORT = 18974

const backendUrl = (port: number) => `http://127.0.0.1:${port}`
const standIn = (port: number) =>
  startPoolStandIn({ port, secret: SECRET, capacity: CAPACITY, depth: DEPTH, serviceMs: SERVICE_MS })

async function edge(port: number, backends: number[], queue: boolean): Promise<string> {
  const proc = startEdge({
    port,
    config: wranglerConfig({ rateLimit: DAILY, jobsQueue: queue ? { maxRetries: 100 } : false }),
    vars: {
      BACKEND_URLS: backends.map(backendUrl).join(','),
      BACKEND_SECRET: SECRET,
      MODEL_VERSIONS: JSON.stringify({ 'wuerstchen-v2': 'dev' }),
      TIER_LIMITS: JSON.stringify({
        free: { burst: DAILY, daily: DAILY, read: DAILY },
        pro: { burst: DAILY, daily: DAILY, read: DAILY },
      }),
      BACKEND_TIMEOUT_MS: String(10 * SERVICE_MS),
      QUEUE_RETRY_BASE_S: '1',
      QUEUE_RETRY_MAX_S: '4',
    },
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/healthz`, proc)
  return url
}

let seed = 0
const job = () => ({
  prompt: 'bench: queued job',
  size: '512x512',
  seed: seed++,
  prior_steps: 1,
  decoder_steps: 1,
})

/**
 * Jobs per second the pool serves for `url` in [WARM_MS, WARM_MS + WINDOW_MS) with `outstanding` jobs kept in
 * flight: its busy slot-time in the window over the service time. Also the jobs that ended in the window.
 */
async function closedLoop(url: string, pool: PoolStandIn[], outstanding: number) {
  const busy = () => pool.reduce((sum, s) => sum + s.stats().busyMs, 0)
  const t0 = performance.now()
  let ended = 0
  let before = 0
  let after = 0
  const marks = [
    setTimeout(() => {
      before = busy()
    }, WARM_MS),
    setTimeout(() => {
      after = busy()
    }, WARM_MS + WINDOW_MS),
  ]
  await Promise.all(
    Array.from({ length: outstanding }, async () => {
      while (performance.now() - t0 < WARM_MS + WINDOW_MS) {
        const o = await runJob(url, job(), '203.0.113.1')
        if (o.status !== 'succeeded') throw new Error(`throughput run: a job ended ${o.status}`)
        const at = o.endedAt - t0
        if (at >= WARM_MS && at < WARM_MS + WINDOW_MS) ended++
      }
    }),
  )
  for (const m of marks) clearTimeout(m)
  return { served: (after - before) / SERVICE_MS / (WINDOW_MS / 1000), ended: ended / (WINDOW_MS / 1000) }
}

/** Generations per key over stand-ins (the killed one's count included). */
function generations(pool: PoolStandIn[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const s of pool)
    for (const [key, n] of Object.entries(s.stats().completed)) out.set(key, (out.get(key) ?? 0) + n)
  return out
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

function summary(outcomes: Outcome[], pool: PoolStandIn[]) {
  const t = tally(outcomes, generations(pool))
  const ok = outcomes.filter((o) => o.status === 'succeeded').map((o) => o.ms)
  return { ...t, completed: ok.length, p99: quantile(ok, 0.99), failed: outcomes.length - ok.length }
}

async function main(): Promise<void> {
  const ratios: Ratio[] = []
  const burstSize = 10 * PORTS.length * HOLDS
  const drainMs = (burstSize / (PORTS.length * CAPACITY)) * SERVICE_MS

  // ---- throughput, 4 backends vs 1 -------------------------------------------------------------------------
  let pool = await Promise.all([...PORTS, SOLO_PORT].map(standIn))
  // One after the other: two `wrangler dev` starting at once can race for the same local port.
  const four = await edge(8791, PORTS, true)
  const one = await edge(8792, [SOLO_PORT], true)
  // Untimed: the first jobs through a fresh `wrangler dev` pay for its start (modules, Durable Objects, the queue).
  await Promise.all(
    [one, four].map((url) =>
      Promise.all(Array.from({ length: HOLDS }, () => runJob(url, job(), '203.0.113.9'))),
    ),
  )
  const rates = { one: 0, four: 0, oneEnded: 0, fourEnded: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    const a = await closedLoop(one, pool.slice(PORTS.length), OUTSTANDING * HOLDS)
    const b = await closedLoop(four, pool.slice(0, PORTS.length), OUTSTANDING * PORTS.length * HOLDS)
    console.log(
      `round ${r + 1}: 1 backend ${a.served.toFixed(2)} jobs/s (${a.ended.toFixed(2)} ended in the window), 4 backends ${b.served.toFixed(2)} (${b.ended.toFixed(2)})`,
    )
    rates.one += a.served / ROUNDS
    rates.four += b.served / ROUNDS
    rates.oneEnded += a.ended / ROUNDS
    rates.fourEnded += b.ended / ROUNDS
  }
  const ideal = (n: number) => ((n * CAPACITY) / SERVICE_MS) * 1000
  ratios.push({
    measure: 'jobs throughput through the edge and its queue, 4 backends / 1',
    ratio: rates.four / rates.one,
    target: '≥ 3.6',
    detail: `${rates.four.toFixed(2)} vs ${rates.one.toFixed(2)} jobs/s served (ideal ${ideal(4).toFixed(2)} vs ${ideal(1).toFixed(2)}; ${rates.fourEnded.toFixed(2)} vs ${rates.oneEnded.toFixed(2)} ended in the windows); stand-ins of capacity ${CAPACITY} + queue ${DEPTH}, ${SERVICE_MS} ms a job; closed loop of ${OUTSTANDING}× the pool's capacity, ${ROUNDS} interleaved windows of ${seconds(WINDOW_MS)}`,
  })
  await Promise.all(pool.map((s) => s.close()))

  // ---- a burst of 10x the pool's capacity, queue on and off -------------------------------------------------
  const burst = async (url: string, client: string) =>
    Promise.all(Array.from({ length: burstSize }, () => runJob(url, job(), client)))
  pool = await Promise.all(PORTS.map(standIn))
  const on = summary(await burst(four, '203.0.113.2'), pool)
  await Promise.all(pool.map((s) => s.close()))
  const off = await edge(8793, PORTS, false)
  pool = await Promise.all(PORTS.map(standIn))
  const offSummary = summary(await burst(off, '203.0.113.3'), pool)
  await Promise.all(pool.map((s) => s.close()))
  console.log(`burst of ${burstSize}, queue on: ${JSON.stringify(on)}`)
  console.log(`burst of ${burstSize}, queue off: ${JSON.stringify(offSummary)}`)
  ratios.push({
    measure: `burst of 10× the pool's capacity (${burstSize} jobs): jobs completed with the queue / without`,
    ratio: on.completed / Math.max(1, offSummary.completed),
    detail: `with: ${on.completed} completed, ${on.lost} lost, ${on.duplicated} generated twice, p99 completion ${seconds(on.p99)}; without (direct dispatch): ${offSummary.failed} failed (backend_unavailable), ${offSummary.completed} completed, p99 ${seconds(offSummary.p99)}`,
  })
  ratios.push({
    measure: 'burst with the queue: p99 completion / the pool’s own drain time',
    ratio: on.p99 / drainMs,
    detail: `${seconds(on.p99)} vs ${seconds(drainMs)} (${burstSize} jobs on ${PORTS.length * CAPACITY} slots at ${SERVICE_MS} ms)`,
  })

  // ---- fault: one backend killed mid-burst and restarted ----------------------------------------------------
  pool = await Promise.all(PORTS.map(standIn))
  const client = '203.0.113.4'
  const running = burst(four, client)
  const victim = pool[0] as PoolStandIn
  while (Object.keys(victim.stats().completed).length < CAPACITY) await new Promise((r) => setTimeout(r, 50))
  await victim.close()
  await new Promise((r) => setTimeout(r, 2 * SERVICE_MS))
  pool.push(await standIn(PORTS[0] as number))
  const outcomes = await running
  const fault = summary(outcomes, pool)
  const left = await dailyLeftAfter(four, job(), client)
  const charged = DAILY - left - 1
  console.log(`fault run: ${JSON.stringify(fault)}, quota charged ${charged} for ${outcomes.length} jobs`)
  ratios.push({
    measure: 'fault run (1 of 4 backends killed mid-burst, restarted): jobs completed / submitted',
    ratio: fault.completed / outcomes.length,
    target: '= 1',
    detail: `${fault.completed} of ${outcomes.length}: ${fault.lost} lost, ${fault.duplicated} images generated twice, ${victim.stats().cut} jobs cut on the killed backend, quota charged ${charged} for ${outcomes.length} jobs, p99 completion ${seconds(fault.p99)}`,
  })
  await Promise.all(pool.map((s) => s.close()))
  report('edge-queue', ratios)
}

try {
  await main()
} finally {
  await stopAll()
}
process.exit(0)
