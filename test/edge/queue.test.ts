// The jobs queue in workerd: POST /v1/jobs enqueues (Miniflare's simulated queue delivers to the Worker's own
// queue() handler), and deliveries made by hand with createMessageBatch show what the consumer does with a message:
// at-least-once delivery (the same job twice, even at once) generates one image and charges the quota once; a busy
// pool is a retry with backoff, never a failure; the dead-letter queue fails the job with a stable code.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import worker from '../../edge/src/index.ts'
import type { JobMessage } from '../../edge/src/queue/message.ts'
import type { GenerationRequestInput, JobStatus } from '../../shared/src/index.ts'
import { METRICS_TOKEN } from '../edge-backend/queue-settings.ts'
import { backendCalls, expectProblem, freshIp, get, keysOf, post, readSse } from './helpers.ts'

interface Created {
  id: string
  status: string
}

async function startJob(body: GenerationRequestInput, ip = freshIp()): Promise<Created> {
  const res = await post('/v1/jobs', body, { 'CF-Connecting-IP': ip })
  expect(res.status).toBe(202)
  return (await res.json()) as Created
}

const status = async (id: string) => (await (await get(`/v1/jobs/${id}`)).json()) as JobStatus

async function untilStatus(id: string, want: (s: JobStatus) => boolean): Promise<JobStatus> {
  for (let i = 0; i < 200; i++) {
    const s = await status(id)
    if (want(s)) return s
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`job ${id} never reached the wanted state: ${JSON.stringify(await status(id))}`)
}

/** The message POST /v1/jobs sends for `body` (one image). */
async function messageFor(id: string, body: GenerationRequestInput): Promise<JobMessage> {
  const [key] = await keysOf(body)
  return { job: id, model: 'wuerstchen-v2', model_version: 'dev', images: 1, key: key as string }
}

let delivered = 0
/**
 * Hands `bodies` to the Worker's queue() as one batch from `queue`: the consumer's ack/retry decisions, and the
 * options of each retry (getQueueResult does not keep the delay).
 */
async function deliver(bodies: unknown[], queue = 'cascade-jobs', attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body) => ({ id: `msg-${++delivered}`, timestamp: new Date(), attempts, body })),
  )
  const retries = batch.messages.map((m) => vi.spyOn(m, 'retry'))
  const ctx = createExecutionContext()
  await worker.queue(batch, env)
  return {
    ids: batch.messages.map((m) => m.id),
    result: await getQueueResult(batch, ctx),
    retryOptions: retries.flatMap((spy) => spy.mock.calls.map(([o]) => o)),
  }
}

/** The free tier's daily images left for `ip`, as the next generation's RateLimit header says (it charges 1). */
async function dailyLeftAfterOneMore(ip: string): Promise<number> {
  const res = await post(
    '/v1/images/generations',
    { prompt: `quota probe ${ip}` },
    { 'CF-Connecting-IP': ip },
  )
  expect(res.status).toBe(200)
  return Number(/"daily";r=(\d+)/.exec(res.headers.get('RateLimit') ?? '')?.[1])
}

afterEach(() => vi.restoreAllMocks())

describe('jobs queue', () => {
  it('a job is queued, then dispatched by the queue consumer: queued (with a position), progress, succeeded', async () => {
    const body = { prompt: 'queued job lifecycle [sleep:200]' }
    const created = await startJob(body)
    expect(created.status).toBe('queued')
    const events = await readSse(await get(`/v1/jobs/${created.id}/events`))
    expect(events[0]).toEqual(['queued', { position: expect.any(Number) }])
    expect(events.map(([e]) => e)).toContain('progress')
    expect(events.at(-1)?.[0]).toBe('succeeded')
    const s = await status(created.id)
    expect(s.status).toBe('succeeded')
    expect(s.position).toBeUndefined()
    expect((await backendCalls(body.prompt))?.count).toBe(1)
  })

  it('while every backend is busy the job stays queued with a position; it runs once one frees up', async () => {
    // The queue consumer's first delivery meets two busy backends and retries the message 2 s later.
    const body = { prompt: 'waits for a free backend [busy:2]' }
    const { id } = await startJob(body)
    const queued = await untilStatus(id, () => true)
    expect(queued.status).toBe('queued')
    expect(queued.position).toEqual(expect.any(Number))
    const done = await untilStatus(id, (s) => s.status === 'succeeded')
    expect(done.data).toHaveLength(1)
    expect((await backendCalls(body.prompt))?.count).toBe(3)
  })

  it('position: the backlog ahead of the job when it was sent, brought down to the backlog as the queue drains', async () => {
    const proto = Object.getPrototypeOf(env.JOB_QUEUE) as Queue
    // Held back from delivery: the queue answers as a busy one would, and keeps the message.
    vi.spyOn(proto, 'send').mockResolvedValue({ metadata: { metrics: { backlogCount: 7, backlogBytes: 0 } } })
    const metrics = vi.spyOn(proto, 'metrics').mockResolvedValue({ backlogCount: 9, backlogBytes: 0 })
    const { id } = await startJob({ prompt: 'position in the queue' })
    expect((await status(id)).position).toBe(7)
    const reader = ((await get(`/v1/jobs/${id}/events`)).body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .getReader()
    expect((await reader.read()).value).toBe('event: queued\ndata: {"position":7}\n\n')
    await reader.cancel()
    metrics.mockResolvedValue({ backlogCount: 3, backlogBytes: 0 })
    expect(await status(id)).toMatchObject({ status: 'queued', position: 3 })
    metrics.mockResolvedValue({ backlogCount: 5, backlogBytes: 0 })
    expect((await status(id)).position).toBe(3)
  })

  it('at-least-once: the same job delivered three times at once generates one image and charges the quota once', async () => {
    const ip = freshIp()
    const body = { prompt: 'delivered thrice [sleep:300]' }
    const { id } = await startJob(body, ip)
    const msg = await messageFor(id, body)
    // Two more deliveries of the job while the queue's own delivery is running.
    const { ids, result } = await deliver([msg, msg])
    expect(result.explicitAcks.sort()).toEqual(ids.sort())
    expect(result.retryMessages).toEqual([])
    const done = await untilStatus(id, (s) => s.status === 'succeeded')
    expect((await backendCalls(body.prompt))?.count).toBe(1)
    // A late redelivery of a settled job: acknowledged, nothing generated.
    const late = await deliver([msg])
    expect(late.result.explicitAcks).toEqual(late.ids)
    expect((await backendCalls(body.prompt))?.count).toBe(1)
    expect(await status(id)).toEqual(done)
    const [key] = await keysOf(body)
    const listed = await env.IMAGES.list({ prefix: key })
    expect(listed.objects.map((o) => o.key)).toEqual([`${key}.png`])
    // 1000 a day in this suite: the job took one, the probe another.
    expect(await dailyLeftAfterOneMore(ip)).toBe(998)
  })

  it('a busy pool is a retry with backoff, not a failure: the job stays queued', async () => {
    const body = { prompt: 'busy pool retry [503]' }
    const { id } = await startJob(body)
    const msg = await messageFor(id, body)
    const first = await deliver([msg, msg], 'cascade-jobs', 1)
    expect(first.result.retryMessages.map((r) => r.msgId)).toEqual(first.ids)
    expect(first.result.explicitAcks).toEqual([])
    // The backends asked for 7 s (Retry-After); the suite caps a delay at QUEUE_RETRY_MAX_S = 2.
    expect(first.retryOptions).toEqual([{ delaySeconds: 2 }, { delaySeconds: 2 }])
    const s = await status(id)
    expect(['queued', 'failed']).toContain(s.status) // the queue's own deliveries run out after ~3 s
    if (s.status === 'queued') expect(s.position).toEqual(expect.any(Number))
  })

  it('the dead-letter queue fails the job with a stable code and the last failure', async () => {
    const body = { prompt: 'dead lettered [503]' }
    const { id } = await startJob(body)
    const failed = await untilStatus(id, (s) => s.status === 'failed')
    expect(failed.error).toMatchObject({ status: 503, code: 'backend_unavailable' })
    expect(failed.error?.detail).toMatch(/retries ran out \(3 attempts on the pool; last: no backend could/)
    expect(failed.error?.detail).not.toMatch(/127\.0\.0\.1|:1878/)
    await expectProblem(await get(`/v1/jobs/${id}/result`), 503, 'backend_unavailable')
    // A second dead letter for the same job changes nothing.
    const again = await deliver([await messageFor(id, body)], 'cascade-jobs-dlq')
    expect(again.result.explicitAcks).toEqual(again.ids)
    expect(await status(id)).toEqual(failed)
  })

  it('a backend dying mid-job: the job is run on another backend and succeeds with one stored image', async () => {
    const body = { prompt: 'backend dies mid-job [dieonce]' }
    const { id } = await startJob(body)
    const events = await readSse(await get(`/v1/jobs/${id}/events`))
    expect(events.at(-1)?.[0]).toBe('succeeded')
    const calls = await backendCalls(body.prompt)
    expect([calls?.count, calls?.aborted]).toEqual([2, 1])
    const [key] = await keysOf(body)
    expect((await get(`/v1/images/${key}.png`)).status).toBe(200)
  })

  it('a job canceled while queued is never dispatched: its next delivery is acknowledged', async () => {
    const body = { prompt: 'canceled in the queue [busy:1000]' }
    const { id } = await startJob(body)
    const canceled = (await (await post(`/v1/jobs/${id}/cancel`, {})).json()) as JobStatus
    expect(canceled.status).toBe('canceled')
    expect(canceled.position).toBeUndefined()
    const before = (await backendCalls(body.prompt))?.count ?? 0
    const next = await deliver([await messageFor(id, body)])
    expect(next.result.explicitAcks).toEqual(next.ids)
    expect((await backendCalls(body.prompt))?.count ?? 0).toBe(before)
    expect((await status(id)).status).toBe('canceled')
  })

  it('acknowledges and drops a message that is not a job', async () => {
    const bad = await deliver([{ job: 'nope' }, 'text', null])
    expect(bad.result.explicitAcks.sort()).toEqual(bad.ids.sort())
  })

  it('when the queue refuses the job: 503 + Retry-After, no job, the quota given back', async () => {
    const ip = freshIp()
    const proto = Object.getPrototypeOf(env.JOB_QUEUE) as Queue
    vi.spyOn(proto, 'send').mockRejectedValue(new Error('queue over its backlog limit'))
    const res = await post('/v1/jobs', { prompt: 'refused by the queue' }, { 'CF-Connecting-IP': ip })
    await expectProblem(res, 503, 'backend_unavailable')
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect(res.headers.get('RateLimit')).toMatch(/"daily";r=1000;/)
    vi.restoreAllMocks()
    expect(await dailyLeftAfterOneMore(ip)).toBe(999)
  })

  it('a sync request on a busy pool whose queue refuses: 503 + Retry-After, the quota given back', async () => {
    const ip = freshIp()
    const proto = Object.getPrototypeOf(env.JOB_QUEUE) as Queue
    vi.spyOn(proto, 'send').mockRejectedValue(new Error('queue unavailable'))
    const res = await post(
      '/v1/images/generations',
      { prompt: 'sync refused [503]' },
      { 'CF-Connecting-IP': ip },
    )
    await expectProblem(res, 503, 'backend_unavailable')
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0)
    vi.restoreAllMocks()
    expect(await dailyLeftAfterOneMore(ip)).toBe(999)
  })
})

describe('GET /metrics (pool depth for autoscaling)', () => {
  it('answers the pool totals and the queue backlog to the operator token', async () => {
    const res = await get('/metrics', { Authorization: `Bearer ${METRICS_TOKEN}` })
    expect(res.status).toBe(200)
    const text = await res.text()
    // The suite's pool: two stand-in ports and a dead one; none reports capacity.
    expect(text).toMatch(/^cascade_pool_backends 3$/m)
    expect(text).toMatch(/^cascade_pool_backends_ready 0$/m)
    for (const name of ['queue_depth', 'free_slots', 'running', 'pending_jobs'])
      expect(text).toMatch(new RegExp(`^cascade_pool_${name} \\d+$`, 'm'))
    expect(text).toMatch(/^cascade_jobs_queue_backlog \d+$/m)
  })

  it('does not exist without the token, or with another', async () => {
    await expectProblem(await get('/metrics'), 404, 'not_found')
    await expectProblem(
      await get('/metrics', { Authorization: 'Bearer sk-not-the-token' }),
      401,
      'unauthorized',
    )
  })
})
