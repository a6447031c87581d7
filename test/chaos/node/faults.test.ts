// Fault injection between the real edge (`wrangler dev`) and a pool of two backends (BACKEND_URLS). Each pool
// port holds, as a test needs it, a real backend (tiny model, CPU), nothing, a fake that hangs or answers
// garbage (fake-backend.ts), or a backend whose model files are damaged. Requests are aimed at the faulty port
// by their key (direct dispatch starts at a key-dependent backend; the jobs queue's consumer prefers the most free
// slots, which the fakes claim to have, and breaks ties by the key), so every fault is met, not just possible.
// The jobs queue runs with test-sized retries: 6, 1-3 s apart (15 s in all), then the dead-letter queue.
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GenerationRequestInput, JobStatus, SseMessage } from '../../../shared/src/index.ts'
import { type Proc, startEdge, stopAll, tempDir, waitFor } from '../../support/processes.ts'
import { wranglerConfig } from '../../support/wrangler-config.ts'
import { type Behaviour, type FakeBackend, fakeBackend } from './fake-backend.ts'
import {
  type Backend,
  backend,
  edgeJob,
  expectProblem,
  firstBackend,
  generated,
  loopback,
  MODEL_LABEL,
  readEvents,
  SECRET,
  sample,
  scrape,
  signedPost,
  tinyJob,
  tinyModel,
  until,
} from './harness.ts'

const POOL_PORTS = [18910, 18911] as const
const EDGE_PORT = 18912
const SPARE_PORT = 18913
const edge = loopback(EDGE_PORT)
/** Low, so a hanging backend costs seconds; a tiny 512² job in image mode takes well under a second. */
const BACKEND_TIMEOUT_MS = 6000

const FAST = { prompt: 'a red bicycle', size: '512x512', prior_steps: 1, decoder_steps: 1 }
/** Long enough (seconds of CPU) to be caught running and killed. */
const SLOW = { prompt: 'a slow lighthouse', size: '640x640', prior_steps: 30, decoder_steps: 15 }

type Kind = 'real' | 'down' | 'broken' | Behaviour

/** One pool port and what currently answers on it. */
class Slot {
  kind: Kind = 'down'
  real: Backend | undefined
  fake: FakeBackend | undefined
  constructor(readonly port: number) {}

  get url(): string {
    return loopback(this.port)
  }

  async set(kind: Kind, modelDir?: string): Promise<void> {
    if (kind === this.kind && (kind !== 'real' || this.real?.proc.alive())) return
    if (this.fake && kind !== 'real' && kind !== 'down' && kind !== 'broken') {
      this.fake.behaviour = kind
      this.kind = kind
      return
    }
    await this.clear()
    if (kind === 'real') this.real = await backend(this.port)
    else if (kind === 'broken')
      this.real = await backend(this.port, { modelDirs: [modelDir ?? ''], ready: false })
    else if (kind !== 'down') this.fake = await fakeBackend(this.port, kind, tinyModel().version)
    this.kind = kind
  }

  /** SIGKILL, as a crash or the OOM killer would. */
  async crash(): Promise<void> {
    const proc = this.real?.proc as Proc
    await proc.kill('SIGKILL')
    expect(await proc.exited).toBe('SIGKILL')
    this.real = undefined
    this.kind = 'down'
  }

  async clear(): Promise<void> {
    await this.real?.proc.stop()
    await this.fake?.close()
    this.real = undefined
    this.fake = undefined
    this.kind = 'down'
  }
}

const pool = POOL_PORTS.map((p) => new Slot(p))
let edgeProc: Proc

beforeAll(async () => {
  edgeProc = startEdge({
    port: EDGE_PORT,
    config: wranglerConfig({ jobsQueue: { maxRetries: 6 } }),
    vars: {
      BACKEND_URLS: pool.map((s) => s.url).join(','),
      BACKEND_SECRET: SECRET,
      BACKEND_TIMEOUT_MS: String(BACKEND_TIMEOUT_MS),
      MODEL_VERSIONS: JSON.stringify({ 'wuerstchen-v2': tinyModel().version }),
      QUEUE_RETRY_BASE_S: '1',
      QUEUE_RETRY_MAX_S: '3',
    },
  })
  await Promise.all([waitFor(`${edge}/healthz`, edgeProc), ...pool.map((s) => s.set('real'))])
})
afterAll(async () => {
  await Promise.all(pool.map((s) => s.clear()))
  await stopAll()
})

// ---- the edge, as a client sees it ---------------------------------------------------------------------

let clients = 0
/** A fresh client address per request: the free tier's burst limit is per address. */
const clientHeaders = () => {
  clients++
  return { 'Content-Type': 'application/json', 'CF-Connecting-IP': `10.77.${clients >> 8}.${clients & 255}` }
}

const generate = (req: GenerationRequestInput) =>
  fetch(`${edge}/v1/images/generations`, {
    method: 'POST',
    headers: clientHeaders(),
    body: JSON.stringify(req),
  })

async function startJob(
  req: GenerationRequestInput,
): Promise<{ id: string; events_url: string; cache: string }> {
  const res = await fetch(`${edge}/v1/jobs`, {
    method: 'POST',
    headers: clientHeaders(),
    body: JSON.stringify(req),
  })
  expect(res.status).toBe(202)
  return {
    ...((await res.json()) as { id: string; events_url: string }),
    cache: res.headers.get('X-Cache') ?? '',
  }
}

/** A job's whole event stream (it ends after the terminal event). */
async function events(url: string): Promise<SseMessage[]> {
  return readEvents(await fetch(url))
}

const jobStatus = async (id: string) => (await (await fetch(`${edge}/v1/jobs/${id}`)).json()) as JobStatus

let nextSeed = 1000
/** `base` with the next seed whose key makes the edge try pool[slot] first. */
async function aimedAt(slot: number, base: GenerationRequestInput): Promise<GenerationRequestInput> {
  for (;;) {
    const req = { ...base, seed: nextSeed++ }
    if ((await firstBackend(req, pool.length)) === slot) return req
  }
}

const sizeOf = (req: GenerationRequestInput) => (req.size ?? '').split('x').map(Number)

/** The image behind `url` is served, is a PNG, and decodes completely at the requested size. */
async function expectImage(url: string, req: GenerationRequestInput): Promise<void> {
  const res = await fetch(url)
  expect(res.status, url).toBe(200)
  expect(res.headers.get('Content-Type')).toBe('image/png')
  const { info } = await sharp(Buffer.from(await res.arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true })
  expect([info.width, info.height]).toEqual(sizeOf(req))
}

/** A 200 from generate, with its image complete. */
async function expectGenerated(res: Response, req: GenerationRequestInput): Promise<void> {
  const text = await res.text()
  expect(res.status, text).toBe(200)
  const url = (JSON.parse(text) as { data: { url: string }[] }).data[0]?.url as string
  await expectImage(url, req)
}

/** A client-facing problem (generate, or a failed job's error) names no backend: the pool is internal. */
function expectNoBackendNamed(problem: object): void {
  const text = JSON.stringify(problem)
  for (const s of pool) expect(text).not.toContain(`:${s.port}`)
}

/** Nothing is stored under the request's key. */
async function expectNotCached(req: GenerationRequestInput): Promise<void> {
  const { key } = await edgeJob(req)
  const res = await fetch(`${edge}/v1/images/${key}.png`)
  expect(res.status).toBe(404)
  await expectProblem(res, { status: 404, code: 'not_found' })
}

const running = async (slot: Slot) => sample(await scrape(slot.url), `cascade_jobs_running${MODEL_LABEL}`)
const generatedOn = async (slots: Slot[]) =>
  (await Promise.all(slots.map((s) => (s.kind === 'real' ? generated(s.url) : 0)))).reduce((a, b) => a + b, 0)

describe('edge with two backends, under faults', () => {
  it('a backend SIGKILLed while it streams a job: the job is retried on the other one; the next request succeeds there', async () => {
    await Promise.all(pool.map((s) => s.set('real')))
    const [victim, survivor] = pool as [Slot, Slot]
    const req = await aimedAt(0, SLOW)
    const before = await generated(survivor.url)
    const job = await startJob(req)
    const stream = events(job.events_url)
    await until('the job running on the first backend', async () => (await running(victim)) === 1)
    await victim.crash()

    const log = await stream
    expect(log.at(-1)?.event).toBe('succeeded')
    expect((await jobStatus(job.id)).status).toBe('succeeded')
    expect(await generated(survivor.url)).toBe(before + 1)
    const url = (JSON.parse(log.at(-1)?.data ?? '{}') as { data: { url: string }[] }).data[0]?.url as string
    await expectImage(url, req)

    const next = await aimedAt(0, FAST)
    await expectGenerated(await generate(next), next)
    expect(await generated(survivor.url)).toBe(before + 2)
  })

  it('one of two backends down: every request succeeds, whichever backend it was aimed at', async () => {
    await pool[0]?.set('down')
    await pool[1]?.set('real')
    const before = await generated((pool[1] as Slot).url)
    const reqs = [
      ...(await Promise.all([0, 0, 0].map(() => aimedAt(0, FAST)))),
      ...(await Promise.all([1, 1, 1].map(() => aimedAt(1, FAST)))),
    ]
    for (const req of reqs) await expectGenerated(await generate(req), req)
    expect(await generated((pool[1] as Slot).url)).toBe(before + reqs.length)
  })

  it('the last backend SIGKILLed mid-job: the job and a sync request wait in the jobs queue and complete once it is back', async () => {
    await pool[0]?.set('down')
    await pool[1]?.set('real')
    const last = pool[1] as Slot
    const jobReq = { ...SLOW, seed: nextSeed++ }
    const syncReq = { ...SLOW, seed: nextSeed++ }
    const job = await startJob(jobReq)
    const stream = events(job.events_url)
    const sync = generate(syncReq)
    await until('both jobs on the last backend', async () => {
      const m = await scrape(last.url)
      return (
        sample(m, `cascade_jobs_running${MODEL_LABEL}`) + sample(m, `cascade_queue_depth${MODEL_LABEL}`) === 2
      )
    })
    await last.crash()
    // No backend left: both wait in the queue (the job retried with backoff) instead of failing.
    await until('the job back in the queue', async () => (await jobStatus(job.id)).status === 'queued')
    await expectNotCached(jobReq)
    await last.set('real')

    await expectGenerated(await sync, syncReq)
    const log = await stream
    expect(log.at(-1)?.event).toBe('succeeded')
    expect(log.map((e) => e.event)).toContain('queued')
    const url = (JSON.parse(log.at(-1)?.data ?? '{}') as { data: { url: string }[] }).data[0]?.url as string
    await expectImage(url, jobReq)
    expect(await generatedOn(pool)).toBe(2)
  })

  it('a backend that accepts and never answers: the edge times out and the other backend answers', async () => {
    await pool[0]?.set('hang')
    await pool[1]?.set('real')
    const hung = pool[0]?.fake as FakeBackend
    const seen = hung.requests
    const before = await generated((pool[1] as Slot).url)
    const syncReqs = await Promise.all([aimedAt(0, FAST), aimedAt(0, FAST)])
    const jobReq = await aimedAt(0, FAST)
    const [job] = await Promise.all([
      startJob(jobReq).then(async (j) => ({ ...j, log: await events(j.events_url) })),
      ...syncReqs.map(async (req) => expectGenerated(await generate(req), req)),
    ])
    expect(job.log.at(-1)?.event).toBe('succeeded')
    expect(hung.requests - seen).toBe(3)
    expect(await generated((pool[1] as Slot).url)).toBe(before + 3)
  })

  it('every backend hanging: 504 backend_timeout problem+json, nothing cached', async () => {
    await Promise.all(pool.map((s) => s.set('hang')))
    const seen = pool.map((s) => s.fake?.requests ?? 0)
    const req = { ...FAST, seed: nextSeed++ }
    const res = await generate(req)
    expectNoBackendNamed(await expectProblem(res, { status: 504, code: 'backend_timeout' }))
    expect(pool.map((s, i) => (s.fake?.requests ?? 0) - (seen[i] ?? 0))).toEqual([1, 1])
    await expectNotCached(req)
  })

  it('backends answering truncated or non-image bytes: refused and never cached; the same request later generates anew', async () => {
    await Promise.all(pool.map((s) => s.set('truncated')))
    const req = { ...FAST, seed: nextSeed++ }
    expectNoBackendNamed(
      await expectProblem(await generate(req), { status: 503, code: 'backend_unavailable' }),
    )
    const job = await startJob(req)
    expect((await events(job.events_url)).at(-1)?.event).toBe('failed')
    await expectNotCached(req)

    await pool[1]?.set('real')
    const again = await generate(req)
    expect(again.headers.get('X-Cache')).toBe('MISS')
    await expectGenerated(again, req)
    expect(await generated((pool[1] as Slot).url)).toBe(1)
  })

  it('each kind of garbage from one backend: the edge fails over to the other, sync and streamed', async () => {
    await pool[1]?.set('real')
    const kinds: Behaviour[] = ['truncated', 'no-iend', 'html', 'empty', 'wrong-seed', 'no-result']
    for (const kind of kinds) {
      await pool[0]?.set(kind)
      const fake = pool[0]?.fake as FakeBackend
      const seen = fake.requests
      const syncReq = await aimedAt(0, FAST)
      await expectGenerated(await generate(syncReq), syncReq)
      const jobReq = await aimedAt(0, FAST)
      const log = await events((await startJob(jobReq)).events_url)
      expect(log.at(-1)?.event, kind).toBe('succeeded')
      const url = (JSON.parse(log.at(-1)?.data ?? '{}') as { data: { url: string }[] }).data[0]?.url as string
      await expectImage(url, jobReq)
      expect(fake.requests - seen, kind).toBe(2)
    }
  })

  describe('damaged model files', () => {
    const damaged = (damage: (dir: string) => void) => {
      const dir = tempDir('damaged-model-')
      cpSync(tinyModel().dir, dir, { recursive: true })
      damage(dir)
      return dir
    }

    /** The backend stays up, not ready: /healthz 200, /readyz 503 naming the file, generate 503. */
    async function expectNotReady(b: Backend, file: string): Promise<void> {
      let ready: Response | undefined
      await until('the model load to fail', async () => {
        ready = await fetch(`${b.url}/readyz`)
        return ((await ready.clone().json()) as { status: string }).status !== 'loading'
      })
      expect(ready?.status).toBe(503)
      const body = (await ready?.json()) as { status: string; reason: string }
      expect(body.status).toBe('failed')
      expect(body.reason).toContain(file)
      expect(b.proc.output()).toContain(file)
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200)
      const res = await signedPost(b.url, JSON.stringify(await tinyJob()))
      await expectProblem(res, { status: 503, code: 'backend_unavailable' })
      expect(b.proc.alive()).toBe(true)
    }

    it('a truncated .onnx: startup error naming it, /readyz 503, no crash; the edge uses the other backend', async () => {
      const dir = damaged((d) => truncateSync(join(d, 'stage_b.onnx'), 1000))
      await pool[0]?.set('broken', dir)
      await pool[1]?.set('real')
      await expectNotReady(pool[0]?.real as Backend, 'stage_b.onnx')
      for (const req of await Promise.all([aimedAt(0, FAST), aimedAt(0, FAST)]))
        await expectGenerated(await generate(req), req)
    })

    it('a missing .onnx: startup error naming it, /readyz 503, no crash', async () => {
      const dir = damaged((d) => rmSync(join(d, 'stage_c.onnx')))
      const b = await backend(SPARE_PORT, { modelDirs: [dir], ready: false })
      try {
        await expectNotReady(b, 'stage_c.onnx')
      } finally {
        await b.proc.stop()
      }
    })

    it('a corrupt .onnx of the right size (its header overwritten): startup error naming it, /readyz 503', async () => {
      const dir = damaged((d) => {
        const path = join(d, 'stage_c.onnx')
        const bytes = readFileSync(path)
        bytes.fill(0xff, 0, 64)
        writeFileSync(path, bytes)
      })
      const b = await backend(SPARE_PORT, { modelDirs: [dir], ready: false })
      try {
        await expectNotReady(b, 'stage_c.onnx')
      } finally {
        await b.proc.stop()
      }
    })
  })
})
