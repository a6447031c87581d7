// One object per async job: the job record (status, position while queued, images, error) and its event log,
// fanned out to SSE subscribers. The images come from the per-key GenerationCoordinators, so a job and a sync
// request for the same key share one generation, and a job the queue delivers twice generates once.
//
// A job starts in one of three ways: every image already stored (succeeded at once); no jobs queue bound
// (dispatched at once, and a failure is final); or queued: the record sends a message to the jobs queue and waits
// for the consumer's dispatch(). A dispatch that fails for want of a backend (busy, down, timed out) puts the job
// back to `queued` and has the consumer retry the message; once the queue gives up on it, the dead-letter consumer
// calls giveUp(), which fails the job with the last failure's code. Spec, state and attempts are persisted, so a
// redelivery after an eviction still finds the job; progress events live in memory only (a subscriber arriving
// after an eviction gets the final state).
import { DurableObject } from 'cloudflare:workers'
import {
  type BackendJob,
  type ErrorCode,
  type FieldError,
  formatSse,
  type JobEvent,
  type JobStatusValue,
  type ModelId,
  PROBLEM_STATUS,
  PROBLEM_TITLES,
  type Problem,
  problemType,
} from '../../../shared/src/index.ts'
import type { GenerationFailure } from '../backend/client.ts'
import type { Bindings } from '../env.ts'
import type { JobMessage } from '../queue/message.ts'
import type { CoordinatorResult, StreamLine } from './generation-coordinator.ts'

export interface JobSpec {
  id: string
  model: ModelId
  created: number
  requestId: string
  jobs: BackendJob[]
}

export interface JobState {
  id: string
  model: ModelId
  created: number
  status: JobStatusValue
  /** While queued: the estimated number of jobs ahead (in the jobs queue, then in the backend's). */
  position?: number
  images?: { key: string; seed: number; url: string }[]
  error?: Problem
}

/** What the consumer does with the message after a dispatch. */
export type DispatchResult = { retry: false } | { retry: true; retryAfterS: number }

interface Tries {
  /** Dispatches that reached the backends. */
  attempts: number
  last?: GenerationFailure
}

/** The record of job `id`. */
export const jobRecord = (env: Bindings, id: string) => env.JOBS.get(env.JOBS.idFromName(id))

const TERMINAL: JobStatusValue[] = ['succeeded', 'failed', 'canceled']
/** Failures a later attempt may not meet: no backend free, or none answered in time. */
const RETRYABLE: ErrorCode[] = ['backend_unavailable', 'backend_timeout']

export class JobRecord extends DurableObject<Bindings> {
  #state: JobState | undefined
  #spec: JobSpec | undefined
  #origin = ''
  #tries: Tries = { attempts: 0 }
  #events: JobEvent[] = []
  #subscribers = new Set<(e: JobEvent) => void>()
  /** The dispatch in progress: a second delivery of the message joins it instead of starting another. */
  #inFlight: Promise<DispatchResult> | undefined
  #onSettled = new Set<() => void>()

  /**
   * Records the job and starts it: `misses` is how many of its images are not stored yet. Undefined when the jobs
   * queue refused the message (nothing is kept: the caller answers 503).
   */
  async start(spec: JobSpec, origin: string, misses: number): Promise<JobState | undefined> {
    this.#spec = spec
    this.#origin = origin
    this.#state = { id: spec.id, model: spec.model, created: spec.created, status: 'queued' }
    await this.ctx.storage.put({ spec, origin, state: this.#state, tries: this.#tries })
    if (misses === 0) {
      await this.#succeed()
      return this.#state
    }
    const queue = this.env.JOB_QUEUE
    if (!queue) {
      this.#emit({ event: 'queued', data: { position: 0 } })
      this.ctx.waitUntil(this.#attempt(undefined, false))
      return this.#state
    }
    const first = spec.jobs[0] as BackendJob
    const message: JobMessage = {
      job: spec.id,
      model: spec.model,
      model_version: first.model_version,
      images: misses,
      key: first.key,
    }
    let ahead: number | undefined
    try {
      const sent = await queue.send(message, { contentType: 'json' })
      ahead = sent?.metadata?.metrics?.backlogCount
    } catch (err) {
      console.error(`jobs queue refused job ${spec.id}:`, err)
      await this.ctx.storage.deleteAll()
      this.#state = undefined
      this.#spec = undefined
      return undefined
    }
    const state = this.#state
    // The consumer may already have taken the job while the send was answered.
    if (state.status === 'queued' && this.#tries.attempts === 0 && !this.#inFlight) {
      state.position = ahead ?? 0
      await this.#save()
      this.#emit({ event: 'queued', data: { position: state.position } })
    }
    return state
  }

  /** The record; while it waits in the jobs queue, its position is brought down to the queue's backlog. */
  async status(): Promise<JobState | null> {
    const state = await this.#load()
    if (state?.status === 'queued' && state.position && !this.#inFlight && this.env.JOB_QUEUE) {
      try {
        const { backlogCount } = await this.env.JOB_QUEUE.metrics()
        state.position = Math.min(state.position, backlogCount)
      } catch {} // an estimate: the last one stands
    }
    return state ?? null
  }

  /** The queue consumer's delivery: generate the missing images on `urls` (tried in order). */
  async dispatch(o: { urls: string[]; backlog?: number }): Promise<DispatchResult> {
    const state = await this.#load()
    if (!state || !this.#spec || TERMINAL.includes(state.status)) return { retry: false }
    this.#inFlight ??= this.#attempt(o.urls, true, o.backlog).finally(() => {
      this.#inFlight = undefined
    })
    return this.#inFlight
  }

  /** The queue gave up on the job (its dead-letter queue): failed, with the last failure's code. */
  async giveUp(): Promise<JobState | null> {
    const state = await this.#load()
    if (!state || TERMINAL.includes(state.status)) return state ?? null
    const last = this.#tries.last
    const code: ErrorCode = last?.code === 'backend_timeout' ? 'backend_timeout' : 'backend_unavailable'
    const tried = `${this.#tries.attempts} attempt${this.#tries.attempts === 1 ? '' : 's'} on the pool`
    await this.#fail(
      code,
      PROBLEM_STATUS[code],
      `no backend could run the job before its retries ran out (${tried}; last: ${last?.detail ?? 'every backend was busy'})`,
    )
    return this.#state ?? null
  }

  /** The record once it is final, or as it is after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<JobState | null> {
    const state = await this.#load()
    if (!state || TERMINAL.includes(state.status)) return state ?? null
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#onSettled.delete(done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.#onSettled.add(done)
    })
    return this.#state ?? null
  }

  async cancel(): Promise<JobState | null> {
    const state = await this.#load()
    if (!state || TERMINAL.includes(state.status)) return state ?? null
    state.status = 'canceled'
    delete state.position
    await this.#save()
    this.#emit({ event: 'canceled', data: {} })
    for (const job of this.#spec?.jobs ?? []) {
      const stub = this.env.GENERATION.get(this.env.GENERATION.idFromName(job.key))
      await stub.release(this.#waiterId(job))
    }
    return state
  }

  /** GET …/events: replays the log, then live events until a terminal one. */
  override async fetch(): Promise<Response> {
    const state = await this.#load()
    if (!state) return new Response(null, { status: 404 })
    const enc = new TextEncoder()
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const writer = writable.getWriter()
    const log = this.#events.length
      ? [...this.#events]
      : [this.#finalEvent(state)].filter((e) => e !== undefined)
    const send = (e: JobEvent) => {
      void writer.write(enc.encode(formatSse(e.event, e.data))).catch(() => this.#subscribers.delete(send))
      if (TERMINAL.includes(e.event as JobStatusValue)) {
        this.#subscribers.delete(send)
        void writer.close().catch(() => {})
      }
    }
    const terminal = TERMINAL.includes(state.status)
    if (!terminal) this.#subscribers.add(send)
    for (const e of log) send(e)
    if (terminal && !log.some((e) => TERMINAL.includes(e.event as JobStatusValue))) void writer.close()
    return new Response(readable, {
      headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' },
    })
  }

  #finalEvent(state: JobState): JobEvent | undefined {
    if (state.status === 'succeeded' && state.images)
      return { event: 'succeeded', data: { data: state.images.map(({ url, seed }) => ({ url, seed })) } }
    if (state.status === 'failed' && state.error) return { event: 'failed', data: state.error }
    if (state.status === 'canceled') return { event: 'canceled', data: {} }
    return undefined
  }

  #waiterId(job: BackendJob): string {
    return `${this.#spec?.id}:${job.key}`
  }

  /** One try at every image. `retryable`: a failure for want of a backend leaves the job queued for the next. */
  async #attempt(urls: string[] | undefined, retryable: boolean, backlog?: number): Promise<DispatchResult> {
    const spec = this.#spec as JobSpec
    this.#tries.attempts++
    await this.ctx.storage.put('tries', this.#tries)
    const results = await Promise.all(spec.jobs.map((job, i) => this.#generate(job, i, urls)))
    const state = this.#state
    if (!state || TERMINAL.includes(state.status)) return { retry: false }
    const failure = results.find((r) => !r.ok)
    if (!failure || failure.ok) {
      await this.#succeed()
      return { retry: false }
    }
    if (retryable && RETRYABLE.includes(failure.code)) {
      this.#tries.last = { ...failure, ok: false }
      state.status = 'queued'
      state.position = backlog ?? 0
      await this.ctx.storage.put({ state, tries: this.#tries })
      this.#emit({ event: 'queued', data: { position: state.position } })
      return { retry: true, retryAfterS: failure.retryAfter ?? 0 }
    }
    await this.#fail(failure.code, failure.status, failure.detail, failure.errors)
    return { retry: false }
  }

  async #succeed(): Promise<void> {
    const state = this.#state as JobState
    const spec = this.#spec as JobSpec
    state.status = 'succeeded'
    delete state.position
    state.images = spec.jobs.map((j) => ({
      key: j.key,
      seed: j.seed,
      url: `${this.#origin}/v1/images/${j.key}.${j.output_format}`,
    }))
    await this.#save()
    const final = this.#finalEvent(state)
    if (final) this.#emit(final)
  }

  /** `errors`: the fields a backend named when it refused an input (400 invalid_request). */
  async #fail(code: ErrorCode, status: number, detail: string, errors?: FieldError[]): Promise<void> {
    const state = this.#state as JobState
    state.status = 'failed'
    delete state.position
    state.error = {
      type: problemType(code),
      title: PROBLEM_TITLES[code],
      status,
      detail,
      code,
      request_id: this.#spec?.requestId ?? '',
      ...(errors ? { errors } : {}),
    }
    await this.#save()
    this.#emit({ event: 'failed', data: state.error })
  }

  async #generate(job: BackendJob, image: number, urls: string[] | undefined): Promise<CoordinatorResult> {
    const stub = this.env.GENERATION.get(this.env.GENERATION.idFromName(job.key))
    const res = await stub.fetch('https://coordinator/stream', {
      method: 'POST',
      body: JSON.stringify({ job, waiter: this.#waiterId(job), ...(urls ? { urls } : {}) }),
    })
    if (!res.body) return { ok: false, code: 'internal', status: 500, detail: 'coordinator gave no stream' }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return { ok: false, code: 'internal', status: 500, detail: 'coordinator stream ended early' }
      buf += value
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as StreamLine
        buf = buf.slice(nl + 1)
        nl = buf.indexOf('\n')
        if (line.type === 'outcome') return line.outcome
        this.#onBackendEvent(line.event, image)
      }
    }
  }

  #onBackendEvent(
    e: StreamLine & { type: 'event' } extends { event: infer E } ? E : never,
    image: number,
  ): void {
    const state = this.#state
    if (!state || TERMINAL.includes(state.status)) return
    if (e.event === 'queued') {
      if (state.status === 'queued') state.position = e.data.position
      this.#emit({ event: 'queued', data: { position: e.data.position } })
    }
    if (e.event === 'progress') {
      if (state.status === 'queued') {
        state.status = 'running'
        delete state.position
        void this.#save()
      }
      const multi = (this.#spec?.jobs.length ?? 1) > 1
      this.#emit({ event: 'progress', data: { ...e.data, ...(multi ? { image } : {}) } })
    }
    // Previews go to whoever listens now; the replayed log stays small (a late subscriber gets the next one).
    if (e.event === 'preview') {
      const multi = (this.#spec?.jobs.length ?? 1) > 1
      this.#broadcast({ event: 'preview', data: { ...e.data, ...(multi ? { image } : {}) } })
    }
  }

  #emit(e: JobEvent): void {
    this.#events.push(e)
    this.#broadcast(e)
  }

  #broadcast(e: JobEvent): void {
    for (const s of [...this.#subscribers]) s(e)
    if (TERMINAL.includes(e.event as JobStatusValue)) for (const done of [...this.#onSettled]) done()
  }

  async #load(): Promise<JobState | undefined> {
    if (!this.#state) {
      const stored = await this.ctx.storage.get<unknown>(['spec', 'origin', 'state', 'tries'])
      this.#state = stored.get('state') as JobState | undefined
      this.#spec = stored.get('spec') as JobSpec | undefined
      this.#origin = (stored.get('origin') as string | undefined) ?? ''
      this.#tries = (stored.get('tries') as Tries | undefined) ?? { attempts: 0 }
    }
    return this.#state
  }

  async #save(): Promise<void> {
    if (this.#state) await this.ctx.storage.put('state', this.#state)
  }
}
