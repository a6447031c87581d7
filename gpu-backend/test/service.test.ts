// The backend service over real HTTP: a tiny Würstchen v2 model (make-tiny) served by startService on an
// ephemeral loopback port, called the way the edge calls it (shared's signRequest, toBackendJob, SSE parser).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BackendJob, type Job, type SseMessage, SseParser, signRequest } from '../../shared/src/index.ts'
import { readEvents } from '../../test/support/sse-stream.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { type RunningService, startService } from '../src/service/server.ts'
import { backendJob } from './backend-job.ts'

const SECRET = 'service-test-secret'
let svc: RunningService
let version: string

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'service-v2-'))
  version = (await makeTiny({ family: 'wuerstchen-v2', outDir: dir, seed: 11 })).weights_version
  svc = await startService(
    {
      port: 0,
      host: '127.0.0.1',
      secret: SECRET,
      modelDirs: [dir],
      queueDepth: 2,
      maxBatch: 4,
      batchWindowMs: 15,
      jobTimeoutMs: 120_000,
      provider: 'cpu',
      verifySha256: true,
    },
    { keepAliveMs: 200 },
  )
  await svc.ready
})
afterAll(() => svc?.close())

const job = (over: Partial<Job> = {}) => backendJob({ model_version: version, ...over })

/** A job that keeps the model busy for seconds: the largest size and step counts the limits allow. */
const slow = (seed: number) =>
  job({ seed, width: 1024, height: 1024, prior_steps: 60, decoder_steps: 30, prompt: 'slow' })

type Signing = 'good' | 'none' | 'bad' | 'stale'

async function post(
  body: BackendJob | string,
  opts: { accept?: string; signing?: Signing; signal?: AbortSignal } = {},
): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  const signing = opts.signing ?? 'good'
  const now = signing === 'stale' ? Date.now() - 301_000 : Date.now()
  const headers: Record<string, string> =
    signing === 'none' ? {} : await signRequest(signing === 'bad' ? 'wrong-secret' : SECRET, text, now)
  return fetch(`${svc.url}/v1/generate`, {
    method: 'POST',
    body: text,
    headers: { 'Content-Type': 'application/json', Accept: opts.accept ?? 'image/*', ...headers },
    ...(opts.signal ? { signal: opts.signal } : {}),
  })
}

interface ProblemBody {
  code: string
  errors?: { path: string; message: string }[]
}
const problem = async (res: Response) => (await res.json()) as ProblemBody

const metricsText = async () => (await fetch(`${svc.url}/metrics`)).text()

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function decode(bytes: Uint8Array) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
  return { data: new Uint8Array(data), format: info.format, width: info.width, height: info.height }
}

describe('health', () => {
  it('answers /healthz and /readyz once warmed up', async () => {
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)
    const ready = await fetch(`${svc.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({
      status: 'ready',
      models: [
        {
          id: 'wuerstchen-v2',
          version,
          provider: 'cpu',
          tiling: true,
          modes: ['text'],
          previews: false,
          capacity: { free_slots: 2, queue_depth: 0, running: 0, retry_after_s: expect.any(Number) },
        },
      ],
    })
    expect(await metricsText()).toContain('cascade_free_slots{model="wuerstchen-v2"} 2')
  })
})

describe('POST /v1/generate: authentication and validation', () => {
  for (const signing of ['none', 'bad', 'stale'] as const)
    it(`answers 401 to a ${signing === 'none' ? 'missing' : signing} signature`, async () => {
      const res = await post(await job(), { signing })
      expect(res.status).toBe(401)
      expect(res.headers.get('Content-Type')).toBe('application/problem+json')
      expect((await problem(res)).code).toBe('unauthorized')
    })

  it('answers 400 when the key is not the key of the job', async () => {
    const j = await job()
    const res = await post({ ...j, prompt: 'something else' })
    expect(res.status).toBe(400)
    const p = await problem(res)
    expect([p.code, p.errors?.[0]?.path]).toEqual(['invalid_request', 'key'])
  })

  it('answers 400 to a body that is not a job, and to a job over the model limits', async () => {
    expect((await post('{"v":1}')).status).toBe(400)
    const res = await post(await job({ width: 4096 }))
    expect(res.status).toBe(400)
    expect((await problem(res)).errors?.[0]?.path).toBe('width')
  })

  it('answers 503 to weights it does not serve, so the edge tries another backend', async () => {
    const res = await post(await job({ model_version: 'other-weights' }))
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0)
  })
})

describe('POST /v1/generate: results', () => {
  it('returns the image with X-Seed, X-Model-Version and Server-Timing (Accept: image/*)', async () => {
    const res = await post(await job({ seed: 123 }))
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('image/png')
    expect(res.headers.get('X-Seed')).toBe('123')
    expect(res.headers.get('X-Model-Version')).toBe(version)
    const timing = res.headers.get('Server-Timing') ?? ''
    expect(timing.split(', ').map((t) => t.split(';')[0])).toEqual([
      'queue',
      'text',
      'image',
      'stage_c',
      'stage_b',
      'stage_a',
      'encode',
      'provider',
    ])
    expect(timing).toMatch(/provider;desc="cpu"$/)
    const img = await decode(new Uint8Array(await res.arrayBuffer()))
    expect([img.format, img.width, img.height]).toEqual(['raw', 512, 512])
  })

  it('streams queued, progress text -> c -> b -> a -> encode, then the result (Accept: text/event-stream)', async () => {
    const j = await job({ seed: 5, output_format: 'webp', prior_steps: 3 })
    const res = await post(j, { accept: 'text/event-stream' })
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('text/event-stream')
    const events = await readEvents(res)
    const names = events.map((e) => {
      const d = JSON.parse(e.data)
      return e.event === 'progress' ? `${d.stage}${d.step}/${d.steps}` : e.event
    })
    expect(names).toEqual([
      'queued',
      'text1/1',
      'c1/3',
      'c2/3',
      'c3/3',
      'b1/2',
      'b2/2',
      'a1/1',
      'encode1/1',
      'result',
    ])
    const result = JSON.parse((events.at(-1) as SseMessage).data)
    expect([result.content_type, result.seed, result.model_version]).toEqual(['image/webp', 5, version])
    expect((await sharp(Buffer.from(result.b64, 'base64')).metadata()).format).toBe('webp')
  })

  it('runs a tiled job on the tile graphs: another image than untiled', async () => {
    const [tiled, plain] = (await Promise.all(
      [job({ seed: 8, tiling: 'xy' }), job({ seed: 8 })].map(async (j) => {
        const res = await post(await j)
        expect(res.status).toBe(200)
        return decode(new Uint8Array(await res.arrayBuffer()))
      }),
    )) as [Awaited<ReturnType<typeof decode>>, Awaited<ReturnType<typeof decode>>]
    expect([tiled.width, tiled.height]).toEqual([512, 512])
    expect(tiled.data).not.toEqual(plain.data)
  })

  it('gives the same image for the same job, alone or batched with others', async () => {
    const alone = await decode(new Uint8Array(await (await post(await job({ seed: 42 }))).arrayBuffer()))
    // Occupy the model, then queue two jobs of one shape: they run as one batch of two.
    const ctrl = new AbortController()
    const busy = await post(await slow(1), { accept: 'text/event-stream', signal: ctrl.signal })
    let running!: () => void
    const started = new Promise<void>((r) => {
      running = r
    })
    const busyDone = readEvents(busy, (m) => m.event === 'progress' && running())
    await started
    const pair = [post(await job({ seed: 42 })), post(await job({ seed: 43, prompt: 'another prompt' }))]
    await until('both jobs queued', async () =>
      /cascade_queue_depth\{model="wuerstchen-v2"\} 2/.test(await metricsText()),
    )
    ctrl.abort()
    await busyDone
    const [a, b] = await Promise.all(pair)
    const batched = await decode(new Uint8Array(await (a as Response).arrayBuffer()))
    expect((b as Response).status).toBe(200)
    let maxDiff = 0
    for (let i = 0; i < alone.data.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((alone.data[i] as number) - (batched.data[i] as number)))
    expect(maxDiff).toBeLessThanOrEqual(1)
    // One run of exactly two jobs: the batch-size histogram's (1, 2] bucket counts it.
    const bucket = (le: string, text: string) =>
      Number(
        new RegExp(`cascade_batch_size_bucket\\{model="wuerstchen-v2",le="${le}"\\} (\\d+)`).exec(text)?.[1],
      )
    const text = await metricsText()
    expect(bucket('2', text) - bucket('1', text)).toBe(1)
  })
})

describe('POST /v1/generate: queue', () => {
  it('answers 503 + Retry-After when the queue is full, and a disconnect frees a waiting or running slot', async () => {
    // A runs (SSE); B (image mode) and E (SSE) wait: the queue (depth 2) is full and C is refused.
    const ctrlA = new AbortController()
    const a = await post(await slow(100), { accept: 'text/event-stream', signal: ctrlA.signal })
    const seenA: string[] = []
    let running!: () => void
    const started = new Promise<void>((r) => {
      running = r
    })
    const doneA = readEvents(a, (m) => {
      seenA.push(m.event)
      if (m.event === 'progress') running()
    })
    await started
    const ctrlB = new AbortController()
    const b = post(await slow(101), { signal: ctrlB.signal }).catch((e: Error) => e)
    await until('B queued', async () =>
      /cascade_queue_depth\{model="wuerstchen-v2"\} 1/.test(await metricsText()),
    )
    const eventsE = readEvents(await post(await job({ seed: 104 }), { accept: 'text/event-stream' }))
    await until('E queued', async () =>
      /cascade_queue_depth\{model="wuerstchen-v2"\} 2/.test(await metricsText()),
    )
    const c = await post(await job({ seed: 102 }))
    expect(c.status).toBe(503)
    expect(Number(c.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1)
    expect((await problem(c)).code).toBe('backend_unavailable')

    // B's client goes away: it leaves the queue, E moves up, and D gets the free place.
    ctrlB.abort()
    expect(await b).toBeInstanceOf(Error)
    await until('B gone', async () =>
      /cascade_queue_depth\{model="wuerstchen-v2"\} 1/.test(await metricsText()),
    )
    const d = await post(await job({ seed: 103 }), { accept: 'text/event-stream' })
    expect(d.status).toBe(200)
    const eventsD = readEvents(d)

    // A's client goes away: the running batch stops between steps, and E and D run to their results.
    ctrlA.abort()
    await doneA
    expect(seenA[0]).toBe('queued')
    const [e, dd] = await Promise.all([eventsE, eventsD])
    expect(e.filter((m) => m.event === 'queued').map((m) => m.data)).toEqual([
      '{"position":1}',
      '{"position":0}',
    ])
    expect(dd[0]).toEqual({ event: 'queued', data: '{"position":1}' })
    expect([e.at(-1)?.event, dd.at(-1)?.event]).toEqual(['result', 'result'])
    await until('the model idle', async () =>
      /cascade_jobs_running\{model="wuerstchen-v2"\} 0/.test(await metricsText()),
    )
  })
})

describe('a running job', () => {
  it('leaves the HTTP thread free: health and metrics answer while the model computes', async () => {
    const ctrl = new AbortController()
    const busy = await post(await slow(200), { accept: 'text/event-stream', signal: ctrl.signal })
    const reader = (busy.body as ReadableStream<Uint8Array>).getReader()
    const parser = new SseParser()
    const decoder = new TextDecoder()
    // Wait until the prior is running (a progress event from stage c).
    for (let seen = false; !seen; ) {
      const { value } = await reader.read()
      seen = parser.push(decoder.decode(value, { stream: true })).some((m) => m.data.includes('"stage":"c"'))
    }
    // The pipeline runs on its worker thread, so these are answered between its steps' model calls...
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200)
    const metrics = await (await fetch(`${svc.url}/metrics`)).text()
    expect(metrics).toMatch(/cascade_jobs_running\{model="wuerstchen-v2"\} 1/)
    // ...and the job is still running when they come back (60 + 30 steps at 1024² take seconds).
    const next = await reader.read()
    expect(next.done).toBe(false)
    ctrl.abort()
    await reader.cancel().catch(() => {})
  })
})

describe('a canceled job', () => {
  it('stops the model between steps: the step counter stops well short of the job', async () => {
    const stepsRun = async () =>
      [...(await metricsText()).matchAll(/^cascade_steps_total\{[^}]*\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      )
    const before = await stepsRun()
    const ctrl = new AbortController()
    const busy = await post(await slow(300), { accept: 'text/event-stream', signal: ctrl.signal })
    let prior!: () => void
    const inPrior = new Promise<void>((r) => {
      prior = r
    })
    const done = readEvents(busy, (m) => m.data.includes('"stage":"c"') && prior())
    await inPrior
    ctrl.abort()
    await done
    await until('the model idle', async () =>
      /cascade_jobs_running\{model="wuerstchen-v2"\} 0/.test(await metricsText()),
    )
    const atStop = await stepsRun()
    await new Promise((r) => setTimeout(r, 500))
    expect(await stepsRun()).toBe(atStop)
    // The slow job has 60 prior and 30 decoder steps; it stopped in the prior.
    expect(atStop - before).toBeLessThan(60)
    expect(/^cascade_errors_total\{code="canceled"\} \d+$/m.test(await metricsText())).toBe(true)
  })
})

describe('GET /metrics', () => {
  it('exposes queue depth, batch sizes, stage latencies, images generated and errors by code', async () => {
    const text = await metricsText()
    for (const series of [
      /^cascade_queue_depth\{model="wuerstchen-v2"\} \d+$/m,
      /^cascade_batch_size_count\{model="wuerstchen-v2"\} \d+$/m,
      /^cascade_stage_seconds_bucket\{phase="stage_b",le="\+Inf"\} \d+$/m,
      /^cascade_stage_seconds_count\{phase="queue"\} \d+$/m,
      /^cascade_images_generated_total\{model="wuerstchen-v2"\} [1-9]\d*$/m,
      /^cascade_errors_total\{code="unauthorized"\} 3$/m,
      /^cascade_errors_total\{code="backend_unavailable"\} [1-9]\d*$/m,
      /^cascade_requests_total\{mode="image",status="200"\} [1-9]\d*$/m,
    ])
      expect(text).toMatch(series)
  })
})
