// One object per async job: the job record (status, images, error) and its event log, fanned out to SSE
// subscribers. The images themselves come from the per-key GenerationCoordinators (so a job and a sync request for
// the same key share one generation). The record is persisted on every status change; progress events live in
// memory only (a subscriber arriving after an eviction gets the final state).
import { DurableObject } from 'cloudflare:workers'
import {
  type BackendJob,
  formatSse,
  type JobEvent,
  type JobStatusValue,
  type ModelId,
  PROBLEM_TITLES,
  type Problem,
  problemType,
} from '../../../shared/src/index.ts'
import type { Bindings } from '../env.ts'
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
  images?: { key: string; seed: number; url: string }[]
  error?: Problem
}

const TERMINAL: JobStatusValue[] = ['succeeded', 'failed', 'canceled']

export class JobRecord extends DurableObject<Bindings> {
  #state: JobState | undefined
  #spec: JobSpec | undefined
  #events: JobEvent[] = []
  #subscribers = new Set<(e: JobEvent) => void>()
  #origin = ''

  async start(spec: JobSpec, origin: string): Promise<JobState> {
    this.#spec = spec
    this.#state = { id: spec.id, model: spec.model, created: spec.created, status: 'queued' }
    this.#origin = origin
    await this.#save()
    this.#emit({ event: 'queued', data: { position: 0 } })
    this.ctx.waitUntil(this.#run(spec))
    return this.#state
  }

  async status(): Promise<JobState | null> {
    return (await this.#load()) ?? null
  }

  async cancel(): Promise<JobState | null> {
    const state = await this.#load()
    if (!state || TERMINAL.includes(state.status)) return state ?? null
    state.status = 'canceled'
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

  async #run(spec: JobSpec): Promise<void> {
    const results = await Promise.all(spec.jobs.map((job, i) => this.#generate(job, i)))
    const state = this.#state
    if (!state || state.status === 'canceled') return
    const failure = results.find((r) => !r.ok)
    if (failure && !failure.ok) {
      state.status = 'failed'
      state.error = {
        type: problemType(failure.code),
        title: PROBLEM_TITLES[failure.code],
        status: failure.status,
        detail: failure.detail,
        code: failure.code,
        request_id: spec.requestId,
        ...(failure.errors ? { errors: failure.errors } : {}),
      }
      await this.#save()
      this.#emit({ event: 'failed', data: state.error })
      return
    }
    state.status = 'succeeded'
    state.images = spec.jobs.map((j) => ({
      key: j.key,
      seed: j.seed,
      url: `${this.#origin}/v1/images/${j.key}.${j.output_format}`,
    }))
    await this.#save()
    const final = this.#finalEvent(state)
    if (final) this.#emit(final)
  }

  async #generate(job: BackendJob, image: number): Promise<CoordinatorResult> {
    const stub = this.env.GENERATION.get(this.env.GENERATION.idFromName(job.key))
    const res = await stub.fetch('https://coordinator/stream', {
      method: 'POST',
      body: JSON.stringify({ job, waiter: this.#waiterId(job) }),
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
    if (e.event === 'queued') this.#emit({ event: 'queued', data: { position: e.data.position } })
    if (e.event === 'progress') {
      if (state.status === 'queued') {
        state.status = 'running'
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
  }

  async #load(): Promise<JobState | undefined> {
    if (!this.#state) this.#state = await this.ctx.storage.get<JobState>('state')
    return this.#state
  }

  async #save(): Promise<void> {
    if (this.#state) await this.ctx.storage.put('state', this.#state)
  }
}
