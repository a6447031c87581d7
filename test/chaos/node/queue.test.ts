// Jobs that survive saturation and faults: the real edge (`wrangler dev`, with its simulated jobs queue and
// dead-letter queue) in front of a pool of two stand-in backends with a fixed service time and capacity
// (test/edge-backend/pool-stand-in.ts), each its own process, so one can be SIGKILLed mid-burst and started again on
// its port. Every job is followed to its end over SSE; the backends' completion logs say how often each image was
// generated, and the edge's own RateLimit header how much quota was charged.
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PoolStats } from '../../edge-backend/pool-stand-in.ts'
import { dailyLeftAfter, type Outcome, quantile, runJob, runSync, tally } from '../../support/jobs-client.ts'
import {
  type Proc,
  ROOT,
  startEdge,
  startProcess,
  stopAll,
  tempDir,
  waitFor,
} from '../../support/processes.ts'
import { wranglerConfig } from '../../support/wrangler-config.ts'
import { loopback, SECRET, until } from './harness.ts'

const POOL_PORTS = [18930, 18931] as const
const EDGE_PORT = 18932
const edge = loopback(EDGE_PORT)
const CAPACITY = 2
const DEPTH = 1
// Long enough that the consumer fills every slot before the first jobs end, even on a loaded 2-core machine (at
// 150 ms one CI-like run saw a backend's queue slot never used).
const SERVICE_MS = 400
/** What the pool holds at once (running and waiting), and the burst: ten times that. */
const POOL_CAPACITY = POOL_PORTS.length * (CAPACITY + DEPTH)
const BURST = 10 * POOL_CAPACITY
const DAILY = 100_000
const logDir = tempDir('pool-logs-')

interface Member {
  port: number
  log: string
  proc?: Proc
}
const pool: Member[] = POOL_PORTS.map((port) => ({ port, log: join(logDir, `${port}.log`) }))

async function startMember(m: Member): Promise<void> {
  m.proc = startProcess(`pool :${m.port}`, process.execPath, [
    '--import',
    'tsx',
    join(ROOT, 'test/edge-backend/pool-stand-in.ts'),
    ...['--port', String(m.port), '--capacity', String(CAPACITY), '--depth', String(DEPTH)],
    ...['--service-ms', String(SERVICE_MS), '--secret', SECRET, '--log', m.log],
  ])
  await waitFor(`${loopback(m.port)}/readyz`, m.proc)
}

const stats = async (m: Member) => (await (await fetch(`${loopback(m.port)}/_stats`)).json()) as PoolStats

/** Generations per key, from every member's completion log (it survives a SIGKILL). */
function completions(): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of pool) {
    let text = ''
    try {
      text = readFileSync(m.log, 'utf8')
    } catch {}
    for (const key of text.split('\n').filter(Boolean)) out.set(key, (out.get(key) ?? 0) + 1)
  }
  return out
}

let edgeProc: Proc
beforeAll(async () => {
  edgeProc = startEdge({
    port: EDGE_PORT,
    config: wranglerConfig({ rateLimit: 1_000_000, jobsQueue: { maxRetries: 30 } }),
    vars: {
      BACKEND_URLS: pool.map((m) => loopback(m.port)).join(','),
      BACKEND_SECRET: SECRET,
      BACKEND_TIMEOUT_MS: '5000',
      MODEL_VERSIONS: JSON.stringify({ 'wuerstchen-v2': 'dev' }),
      TIER_LIMITS: JSON.stringify({
        free: { burst: 1_000_000, daily: DAILY, read: 1_000_000 },
        pro: { burst: 1_000_000, daily: DAILY, read: 1_000_000 },
      }),
      QUEUE_RETRY_BASE_S: '1',
      QUEUE_RETRY_MAX_S: '2',
    },
  })
  await Promise.all([waitFor(`${edge}/healthz`, edgeProc), ...pool.map(startMember)])
})
afterAll(stopAll)

let seed = 0
const request = (client: string) => ({
  prompt: `queue chaos ${client}`,
  size: '512x512',
  seed: seed++,
  prior_steps: 1,
  decoder_steps: 1,
})

/** Every job succeeded with one image of its own; none was lost, none generated twice. */
function expectEveryJobOnce(outcomes: Outcome[]): void {
  expect(outcomes.filter((o) => o.status !== 'succeeded' && o.status !== '200')).toEqual([])
  for (const o of outcomes) expect(o.urls).toHaveLength(1)
  expect(tally(outcomes, completions())).toEqual({
    lost: 0,
    duplicated: 0,
    ungenerated: 0,
    images: outcomes.length,
  })
}

const report = (what: string, outcomes: Outcome[]) => {
  const ms = outcomes.map((o) => o.ms)
  console.log(
    `${what}: ${outcomes.length} jobs, completion p50 ${quantile(ms, 0.5).toFixed(0)} ms, p99 ${quantile(ms, 0.99).toFixed(0)} ms`,
  )
}

describe(`the jobs queue: a burst of ${BURST} jobs against a pool that holds ${POOL_CAPACITY}`, () => {
  it('every job completes, none lost, none generated twice, quota charged once each; sync requests wait instead of failing', async () => {
    for (const m of pool) rmSync(m.log, { force: true })
    const client = '10.88.0.1'
    const outcomes = await Promise.all([
      ...Array.from({ length: BURST }, () => runJob(edge, request(client), client)),
      ...Array.from({ length: 6 }, () => runSync(edge, request(client), client)),
    ])
    expectEveryJobOnce(outcomes)
    // The burst did fill the pool: every backend ran at capacity with its queue full.
    for (const s of await Promise.all(pool.map(stats)))
      expect([s.peakRunning, s.peakWaiting]).toEqual([CAPACITY, DEPTH])
    expect(await dailyLeftAfter(edge, request(client), client)).toBe(DAILY - outcomes.length - 1)
    report('burst', outcomes)
  })

  it('a backend SIGKILLed mid-burst, then started again: 0 jobs lost, 0 images generated twice, quota charged once per job', async () => {
    for (const m of pool) rmSync(m.log, { force: true })
    const client = '10.88.0.2'
    const victim = pool[0] as Member
    const burst = Promise.all(Array.from({ length: BURST }, () => runJob(edge, request(client), client)))
    let runningAtKill = 0
    await until('the victim busy, a few jobs in', async () => {
      const s = await stats(victim)
      const cap = (await (await fetch(`${loopback(victim.port)}/readyz`)).json()) as {
        models: { capacity: { running: number } }[]
      }
      runningAtKill = cap.models[0]?.capacity.running ?? 0
      return Object.keys(s.completed).length >= 3 && runningAtKill > 0
    })
    await victim.proc?.kill('SIGKILL')
    expect(await victim.proc?.exited).toBe('SIGKILL')
    await new Promise((r) => setTimeout(r, 1000))
    await startMember(victim)
    const outcomes = await burst
    expect(runningAtKill).toBeGreaterThan(0)
    expectEveryJobOnce(outcomes)
    expect(await dailyLeftAfter(edge, request(client), client)).toBe(DAILY - outcomes.length - 1)
    report(`fault run (${runningAtKill} running on the killed backend)`, outcomes)
  })
})
