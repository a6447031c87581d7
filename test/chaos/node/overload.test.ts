// A burst far beyond the backend's queue (MAX_QUEUE=2): while one job runs, 49 more arrive at once. Exactly the
// queue's worth are admitted and complete; every other one is refused at once with 503 + Retry-After
// problem+json; the process stays up, its memory does not grow from burst to burst, and the queue drains to 0.
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BackendJob, fromBase64, type SseMessage } from '../../../shared/src/index.ts'
import { stopAll } from '../../support/processes.ts'
import {
  type Backend,
  backend,
  expectProblem,
  MODEL_LABEL,
  readEvents,
  rssKiB,
  sample,
  scrape,
  signedPost,
  tinyJob,
  until,
} from './harness.ts'

const PORT = 18920
const QUEUE = 2
const BURST = 49
const ROUNDS = 3

let b: Backend
beforeAll(async () => {
  // MAX_QUEUE is the current name, QUEUE_DEPTH the older one: both say 2.
  b = await backend(PORT, { env: { MAX_QUEUE: String(QUEUE), QUEUE_DEPTH: String(QUEUE) } })
  // The blocker is canceled wherever it is when a burst has settled: in Stage C in one round, in Stage B or A in
  // another. The first time a 1024² job reaches a stage, onnxruntime's arena grows once for that size (measured:
  // a one-off ~300 MiB step in a random round). One whole job of the blocker's size, before the first round, makes
  // that growth happen before the rounds are measured.
  const warmUp = await tinyJob({ seed: 999, width: 1024, height: 1024, prior_steps: 1, decoder_steps: 1 })
  const res = await signedPost(b.url, JSON.stringify(warmUp), { accept: 'image/*' })
  expect(res.status).toBe(200)
  await expectPng(new Uint8Array(await res.arrayBuffer()), 1024)
}, 120_000)
afterAll(stopAll)

/** A job that keeps the model busy until it is canceled: the largest size and step counts the limits allow. */
async function startBlocker(seed: number): Promise<{ ctrl: AbortController; done: Promise<SseMessage[]> }> {
  const ctrl = new AbortController()
  const job = await tinyJob({ seed, width: 1024, height: 1024, prior_steps: 60, decoder_steps: 30 })
  const res = await signedPost(b.url, JSON.stringify(job), {
    accept: 'text/event-stream',
    signal: ctrl.signal,
  })
  expect(res.status).toBe(200)
  let running!: () => void
  const started = new Promise<void>((r) => {
    running = r
  })
  const done = readEvents(res, (m) => m.event === 'progress' && running())
  await started
  return { ctrl, done }
}

async function expectPng(bytes: Uint8Array, size: number): Promise<void> {
  const { info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
  expect([info.width, info.height]).toEqual([size, size])
}

interface Outcome {
  mode: 'image' | 'stream'
  res: Response
  /** For an admitted event stream: its messages, once it ends. */
  events?: Promise<SseMessage[]>
}

const depth = async () => sample(await scrape(b.url), `cascade_queue_depth${MODEL_LABEL}`)
const running = async () => sample(await scrape(b.url), `cascade_jobs_running${MODEL_LABEL}`)

describe(`a burst of ${BURST + 1} concurrent jobs against MAX_QUEUE=${QUEUE}`, () => {
  it(`admits ${QUEUE} while one runs, refuses the rest with 503 + Retry-After, completes the admitted; ${ROUNDS} rounds, memory flat`, async () => {
    const rss: number[] = []
    let peak = 0
    for (let round = 0; round < ROUNDS; round++) {
      const blocker = await startBlocker(1000 + round)
      expect(await running()).toBe(1)

      // The burst: half wait for the image, half ask for the event stream.
      const jobs: BackendJob[] = await Promise.all(
        Array.from({ length: BURST }, (_, i) => tinyJob({ seed: round * 100 + i, prompt: `burst ${i}` })),
      )
      let imageAnswered = 0
      let streamsAdmitted = 0
      const outcomes = jobs.map(async (job, i): Promise<Outcome> => {
        const mode = i % 2 ? 'stream' : 'image'
        const res = await signedPost(b.url, JSON.stringify(job), {
          accept: mode === 'stream' ? 'text/event-stream' : 'image/*',
        })
        peak = Math.max(peak, rssKiB(b.proc.pid))
        if (mode === 'image') imageAnswered++
        else if (res.status === 200) {
          streamsAdmitted++
          return { mode, res, events: readEvents(res) }
        }
        return { mode, res }
      })
      const imageCount = Math.ceil(BURST / 2)
      const streamCount = BURST - imageCount
      let streamsAnswered = 0
      for (const o of outcomes) void o.then((x) => x.mode === 'stream' && streamsAnswered++)
      // Every request of the burst is either answered or waiting in the queue.
      await until('the burst settled', async () => {
        const queued = await depth()
        return streamsAnswered === streamCount && imageAnswered + (queued - streamsAdmitted) === imageCount
      })
      // Still one job running (the blocker), and exactly the queue's worth waiting.
      expect(await running()).toBe(1)
      expect(await depth()).toBe(QUEUE)

      blocker.ctrl.abort()
      await blocker.done
      const settled = await Promise.all(outcomes)
      const refused = settled.filter((o) => o.res.status === 503)
      const admitted = settled.filter((o) => o.res.status !== 503)
      expect(admitted.length).toBe(QUEUE)
      expect(refused.length).toBe(BURST - QUEUE)
      for (const o of refused) {
        await expectProblem(o.res, { status: 503, code: 'backend_unavailable' })
        expect(o.res.headers.get('Retry-After')).toMatch(/^[1-9]\d*$/)
      }
      for (const o of admitted) {
        expect(o.res.status).toBe(200)
        if (o.mode === 'image') await expectPng(new Uint8Array(await o.res.arrayBuffer()), 512)
        else {
          const last = (await o.events)?.at(-1)
          expect(last?.event).toBe('result')
          await expectPng(fromBase64((JSON.parse(last?.data ?? '{}') as { b64: string }).b64), 512)
        }
      }

      await until('the queue drained', async () => (await depth()) === 0 && (await running()) === 0)
      expect(b.proc.alive()).toBe(true)
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200)
      rss.push(rssKiB(b.proc.pid))
    }
    const first = rss[0] as number
    console.log(
      `overload: RSS after each round ${rss.map((k) => `${Math.round(k / 1024)} MiB`).join(', ')}; peak seen ${Math.round(peak / 1024)} MiB`,
    )
    // Bounded: refused requests hold nothing. What later rounds add is the allocator settling (measured over 20
    // rounds: +60 MiB after the first, then a plateau ~100 MiB above it), far below the bounds here.
    for (const r of rss.slice(1)) expect(r - first).toBeLessThan(128 * 1024)
    expect(peak - first).toBeLessThan(256 * 1024)
    const m = await scrape(b.url)
    expect(sample(m, 'cascade_errors_total{code="internal"}')).toBe(0)
    expect(sample(m, `cascade_images_generated_total${MODEL_LABEL}`)).toBe(ROUNDS * QUEUE + 1)
  })
})
