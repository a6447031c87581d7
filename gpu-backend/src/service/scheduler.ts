// One model's work queue: a bounded FIFO of jobs, one pipeline run at a time, and jobs with the same shape and
// sampling settings batched into one run (each its own guidance group, so a job's image never depends on its
// batch-mates). Waiting jobs hear their queue position; a canceled job leaves the queue at once, and a running
// batch stops between steps when every job in it was canceled. An idle model waits a short window for batch-mates
// before it starts; a job still unfinished at its deadline fails with backend_timeout the same way a cancel does.
// Jobs with input images batch with jobs of the same strength (one Stage C schedule); each keeps its own inputs.
// Jobs that stream ask for previews, which the batch's run then makes for every job in it that asked.
import {
  type BackendCapacity,
  type BackendJob,
  type BackendPreview,
  type BackendProgress,
  CONTENT_TYPES,
  type ErrorCode,
  MODELS,
  toBase64,
} from '../../../shared/src/index.ts'
import type { StepEvent, Timings } from '../pipeline/generate.ts'
import type { JobInputs } from '../pipeline/job-inputs.ts'
import type { ServiceMetrics } from './metrics.ts'
import type { PipelineRunner, PreviewMessage } from './model-worker.ts'

export type TimingPhase = 'queue' | keyof Timings

export interface JobResult {
  bytes: Uint8Array
  contentType: string
  seed: number
  modelVersion: string
  /** Milliseconds per phase (the pipeline phases are the batch's). */
  timings: Record<TimingPhase, number>
}

export type JobOutcome = { ok: true; result: JobResult } | { ok: false; code: ErrorCode; detail: string }

export type JobEvent =
  | { event: 'queued'; data: { position: number } }
  | { event: 'progress'; data: BackendProgress }
  | { event: 'preview'; data: BackendPreview }

export interface Ticket {
  /** Settles once; never rejects. */
  readonly outcome: Promise<JobOutcome>
  /** The client is gone: leave the queue, or stop the batch if nobody else waits for it. */
  cancel(): void
}

export interface SchedulerOptions {
  /** Jobs that may wait (the running batch not counted). */
  depth: number
  maxBatch: number
  /** How long the head of the queue may wait for batch-mates before its run starts. */
  batchWindowMs: number
  /** From arrival to result; past it the job fails with backend_timeout. */
  jobTimeoutMs: number
  /** Least time between two previews of a job (the previewer runs only for the steps that are sent). */
  previewIntervalMs?: number
  metrics: ServiceMetrics
}

export interface SubmitOptions {
  /** The job's decoded input images, as the pipeline takes them (service/inputs.ts). */
  inputs?: JobInputs
  /** Send `preview` events (a streaming client). */
  previews?: boolean
}

interface Entry {
  job: BackendJob
  opts: SubmitOptions
  onEvent: (e: JobEvent) => void
  submittedAt: number
  position: number
  state: 'waiting' | 'running' | 'done'
  resolve: (o: JobOutcome) => void
}

interface Running {
  entries: Entry[]
  ctrl: AbortController
}

/** Jobs that can share a pipeline run: everything but prompts, seed and output format agrees. */
const batchKey = (e: Entry) =>
  [
    e.job.width,
    e.job.height,
    e.job.prior_steps,
    e.job.prior_guidance,
    e.job.decoder_steps,
    e.job.decoder_guidance,
    e.job.tiling,
    e.opts.inputs?.strength ?? '',
  ].join('|')

const DEFAULT_PREVIEW_INTERVAL_MS = 250

const DEFAULT_RUN_SECONDS = 5

export class ModelScheduler {
  readonly #waiting: Entry[] = []
  #running: Running | undefined
  /** Exponential average of a run's duration, for Retry-After. */
  #runSeconds = DEFAULT_RUN_SECONDS
  /** The pending end of the batch window, if one is open. */
  #windowTimer: NodeJS.Timeout | undefined

  constructor(
    readonly model: PipelineRunner,
    private readonly opts: SchedulerOptions,
  ) {
    this.#gauge()
  }

  get waiting(): number {
    return this.#waiting.length
  }

  /** Seconds until a new job would likely be admitted. */
  retryAfterSeconds(): number {
    const runsAhead = Math.ceil(this.#waiting.length / this.opts.maxBatch) + 1
    return Math.min(300, Math.max(1, Math.ceil(this.#runSeconds * runsAhead)))
  }

  /** What this model can take now (GET /readyz): the edge's queue consumer sends work where most slots are free. */
  capacity(): BackendCapacity {
    return {
      free_slots: this.#idle()
        ? Math.max(1, this.opts.depth)
        : Math.max(0, this.opts.depth - this.#waiting.length),
      queue_depth: this.#waiting.length,
      running: this.#running?.entries.length ?? 0,
      retry_after_s: this.retryAfterSeconds(),
    }
  }

  #idle(): boolean {
    return !this.#running && !this.#waiting.length
  }

  /** Queues a job; undefined when the queue is full. */
  submit(job: BackendJob, onEvent: (e: JobEvent) => void, opts: SubmitOptions = {}): Ticket | undefined {
    if (!this.#idle() && this.#waiting.length >= this.opts.depth) return undefined
    let resolve!: (o: JobOutcome) => void
    const outcome = new Promise<JobOutcome>((r) => {
      resolve = r
    })
    const deadline = setTimeout(
      () =>
        this.#drop(entry, 'backend_timeout', `the job did not finish within ${this.opts.jobTimeoutMs} ms`),
      this.opts.jobTimeoutMs,
    )
    const entry: Entry = {
      job,
      opts,
      onEvent,
      submittedAt: performance.now(),
      position: this.#waiting.length,
      state: 'waiting',
      resolve: (o) => {
        if (entry.state === 'done') return
        entry.state = 'done'
        clearTimeout(deadline)
        resolve(o)
      },
    }
    this.#waiting.push(entry)
    this.#gauge()
    onEvent({ event: 'queued', data: { position: entry.position } })
    setImmediate(() => this.#pump())
    return { outcome, cancel: () => this.#drop(entry, 'canceled', 'the client canceled the job') }
  }

  /** One small run through every graph, so the first real job does not pay for session initialisation. */
  async warmUp(): Promise<void> {
    const info = MODELS[this.model.id]
    const size = info.limits.min_size
    await this.model.run({
      width: size,
      height: size,
      images: [{ seed: 0, prompt: '', negativePrompt: '', format: 'png' }],
      priorSteps: 1,
      priorGuidance: info.defaults.prior_guidance,
      decoderSteps: 1,
      decoderGuidance: info.defaults.decoder_guidance,
    })
  }

  /** Ends a job early (canceled, or past its deadline): out of the queue, or its batch stopped if it was the last. */
  #drop(entry: Entry, code: ErrorCode, detail: string): void {
    if (entry.state === 'done') return
    entry.resolve({ ok: false, code, detail })
    const i = this.#waiting.indexOf(entry)
    if (i >= 0) {
      this.#waiting.splice(i, 1)
      this.#reportPositions()
      this.#gauge()
      return
    }
    const run = this.#running
    if (run?.entries.every((e) => e.state === 'done'))
      run.ctrl.abort(new Error('every job of the batch was canceled'))
  }

  #reportPositions(): void {
    this.#waiting.forEach((e, position) => {
      if (e.position === position) return
      e.position = position
      e.onEvent({ event: 'queued', data: { position } })
    })
  }

  #gauge(): void {
    const labels = { model: this.model.id }
    this.opts.metrics.queueDepth.set(labels, this.#waiting.length)
    this.opts.metrics.running.set(labels, this.#running?.entries.length ?? 0)
    this.opts.metrics.freeSlots.set(labels, this.capacity().free_slots)
  }

  #pump(): void {
    const head = this.#waiting[0]
    if (this.#running || !head) return
    const key = batchKey(head)
    const batch = this.#waiting.filter((e) => batchKey(e) === key).slice(0, this.opts.maxBatch)
    const windowLeft = head.submittedAt + this.opts.batchWindowMs - performance.now()
    if (batch.length < this.opts.maxBatch && windowLeft > 0) {
      this.#windowTimer ??= setTimeout(() => {
        this.#windowTimer = undefined
        this.#pump()
      }, windowLeft)
      return
    }
    clearTimeout(this.#windowTimer)
    this.#windowTimer = undefined
    for (const e of batch) {
      this.#waiting.splice(this.#waiting.indexOf(e), 1)
      e.state = 'running'
    }
    this.#reportPositions()
    void this.#run(batch)
  }

  async #run(entries: Entry[]): Promise<void> {
    const run: Running = { entries, ctrl: new AbortController() }
    this.#running = run
    this.#gauge()
    const m = this.opts.metrics
    const labels = { model: this.model.id }
    m.batchSize.observe(labels, entries.length)
    const startedAt = performance.now()
    const head = entries[0] as Entry
    const job = head.job
    const strength = head.opts.inputs?.strength
    const previews = entries.some((e) => e.opts.previews)
    try {
      const res = await this.model.run(
        {
          width: job.width,
          height: job.height,
          images: entries.map((e) => ({
            seed: e.job.seed,
            prompt: e.job.prompt,
            negativePrompt: e.job.negative_prompt,
            format: e.job.output_format,
            ...(e.opts.inputs?.inputs ? { inputs: e.opts.inputs.inputs } : {}),
          })),
          priorSteps: job.prior_steps,
          priorGuidance: job.prior_guidance,
          decoderSteps: job.decoder_steps,
          decoderGuidance: job.decoder_guidance,
          ...(job.tiling ? { tiling: job.tiling } : {}),
          ...(strength !== undefined ? { strength } : {}),
          groups: entries.map(() => 1),
        },
        {
          signal: run.ctrl.signal,
          onStep: (s) => this.#progress(entries, s),
          ...(previews
            ? {
                previewIntervalMs: this.opts.previewIntervalMs ?? DEFAULT_PREVIEW_INTERVAL_MS,
                onPreview: (p) => this.#preview(entries, p),
              }
            : {}),
        },
      )
      for (const [phase, ms] of Object.entries(res.timings)) m.stageSeconds.observe({ phase }, ms / 1000)
      entries.forEach((e, i) => {
        const queue = startedAt - e.submittedAt
        m.stageSeconds.observe({ phase: 'queue' }, queue / 1000)
        if (e.state === 'running') m.images.inc(labels)
        e.resolve({
          ok: true,
          result: {
            bytes: res.encoded[i] as Uint8Array,
            contentType: CONTENT_TYPES[e.job.output_format],
            seed: e.job.seed,
            modelVersion: this.model.manifest.weights_version,
            timings: { queue, ...res.timings },
          },
        })
      })
      const seconds = (performance.now() - startedAt) / 1000
      this.#runSeconds = 0.7 * this.#runSeconds + 0.3 * seconds
    } catch (err) {
      const detail = run.ctrl.signal.aborted ? 'canceled' : `generation failed: ${(err as Error).message}`
      for (const e of entries)
        e.resolve({ ok: false, code: run.ctrl.signal.aborted ? 'canceled' : 'internal', detail })
    } finally {
      this.#running = undefined
      this.#gauge()
      this.#pump()
    }
  }

  /** A batch's previews -> each job that asked for them gets its own image's. */
  #preview(entries: Entry[], p: PreviewMessage): void {
    entries.forEach((e, i) => {
      const bytes = p.images[i]
      if (e.state !== 'running' || !e.opts.previews || !bytes) return
      e.onEvent({
        event: 'preview',
        data: { stage: 'c', step: p.step, steps: p.steps, content_type: p.contentType, b64: toBase64(bytes) },
      })
    })
  }

  /** Pipeline steps -> each job's progress; the encode phase reports each job's own image. */
  #progress(entries: Entry[], s: StepEvent): void {
    if (s.stage !== 'encode') this.opts.metrics.steps.inc({ model: this.model.id, stage: s.stage })
    entries.forEach((e, i) => {
      if (e.state !== 'running') return
      if (s.stage !== 'encode') e.onEvent({ event: 'progress', data: s })
      else if (s.step === i + 1)
        e.onEvent({ event: 'progress', data: { stage: 'encode', step: 1, steps: 1 } })
    })
  }
}
