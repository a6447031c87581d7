// The GPU backend's HTTP API (api.md "Edge -> backend"):
//   POST /v1/generate   signed job -> image bytes (Accept: image/*) or progress events + result (text/event-stream)
//   GET  /healthz       the process is alive
//   GET  /readyz        every model loaded and warmed up (each model: id, weights version, provider, tiling, and
//                       its capacity: free slots, queue depth)
//   GET  /metrics       Prometheus text
import { Hono } from 'hono'
import {
  ApiError,
  BACKEND_BODY_MAX_BYTES,
  BACKEND_JOB_MAX_BYTES,
  BackendJob,
  type BackendResult,
  decodeBackendBody,
  type ErrorCode,
  type FieldError,
  type ModelId,
  PROBLEM_STATUS,
  problemBody,
  problemResponse,
  toBase64,
  verifyJobKey,
} from '../../../shared/src/index.ts'
import { supportsTiling } from '../compiler/manifest.ts'
import { capabilitiesOf } from '../pipeline/image-graphs.ts'
import { InputsRefused, readJobInputs } from './inputs.ts'
import { capabilityErrors, limitErrors } from './limits.ts'
import type { ServiceMetrics } from './metrics.ts'
import { type SignatureEnv, signature } from './middleware/signature.ts'
import type { JobOutcome, JobResult, ModelScheduler, Ticket } from './scheduler.ts'
import { eventStream } from './sse.ts'

export interface ServiceState {
  /** True once every model is loaded and warmed up. */
  ready: boolean
  /** Why loading failed (naming the model file): the process stays up, not ready, and says why on /readyz. */
  failure?: string
  models: Map<ModelId, ModelScheduler>
}

export interface AppOptions {
  secret: string
  state: ServiceState
  metrics: ServiceMetrics
  now?: () => number
  keepAliveMs?: number
}

/** A JSON job, or a multipart job with its input images (shared backend-body.ts). */
const maxBodyBytes = (contentType: string) =>
  /^multipart\/form-data/i.test(contentType) ? BACKEND_BODY_MAX_BYTES : BACKEND_JOB_MAX_BYTES
/** While the models load, a client should come back after about this long. */
const LOADING_RETRY_AFTER_S = 5

type Env = SignatureEnv & { Variables: { requestId: string } }

export function createApp(o: AppOptions): Hono<Env> {
  const app = new Hono<Env>()
  const { state, metrics } = o

  app.use(async function requestId(c, next) {
    c.set('requestId', c.req.header('X-Request-Id') ?? crypto.randomUUID())
    await next()
  })

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/readyz', (c) =>
    state.ready
      ? c.json({
          status: 'ready',
          models: [...state.models.values()].map((s) => ({
            id: s.model.id,
            version: s.model.manifest.weights_version,
            provider: s.model.provider,
            capacity: s.capacity(),
            tiling: supportsTiling(s.model.manifest),
            ...capabilitiesOf(s.model.manifest),
          })),
        })
      : c.json(state.failure ? { status: 'failed', reason: state.failure } : { status: 'loading' }, 503),
  )

  app.get('/metrics', (c) =>
    c.text(metrics.registry.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }),
  )

  app.post(
    '/v1/generate',
    async function countRequests(c, next) {
      await next()
      const mode = (c.req.header('Accept') ?? '').includes('text/event-stream') ? 'stream' : 'image'
      metrics.requests.inc({ status: String(c.res.status), mode })
    },
    signature({ secret: o.secret, maxBytes: maxBodyBytes, ...(o.now ? { now: o.now } : {}) }),
    async function generateImage(c) {
      const { job, parts } = await parseJob(c.get('body'), c.req.header('Content-Type') ?? '')
      const scheduler = schedulerFor(state, job)
      const errors = [...limitErrors(job), ...capabilityErrors(job, scheduler.model.manifest)]
      if (errors.length) throw new ApiError('invalid_request', 'the job exceeds the model limits', { errors })
      let inputs: Awaited<ReturnType<typeof readJobInputs>>
      try {
        inputs = await readJobInputs(job, parts, scheduler.model.manifest)
      } catch (err) {
        if (!(err instanceof InputsRefused)) throw err
        metrics.errors.inc({ code: 'invalid_request' })
        return err.response(c.get('requestId'))
      }
      const full = () =>
        new ApiError('backend_unavailable', `the ${job.model} queue is full`, {
          headers: { 'Retry-After': String(scheduler.retryAfterSeconds()) },
        })

      if ((c.req.header('Accept') ?? '').includes('text/event-stream')) {
        let ticket: Ticket | undefined
        const stream = eventStream(() => ticket?.cancel(), o.keepAliveMs)
        ticket = scheduler.submit(job, (e) => stream.send(e.event, e.data), { inputs, previews: true })
        if (!ticket) {
          stream.close()
          throw full()
        }
        const t = ticket
        c.req.raw.signal.addEventListener('abort', () => t.cancel())
        void t.outcome.then((outcome) => {
          if (outcome.ok) stream.send('result', resultEvent(outcome.result))
          else {
            metrics.errors.inc({ code: outcome.code })
            stream.send('error', {
              status: PROBLEM_STATUS[outcome.code],
              code: outcome.code,
              detail: outcome.detail,
            })
          }
          stream.close()
        })
        return new Response(stream.body, {
          headers: {
            'Content-Type': 'text/event-stream',
            'Cache-Control': 'no-store',
            'X-Accel-Buffering': 'no',
          },
        })
      }

      const ticket = scheduler.submit(job, () => {}, { inputs, previews: false })
      if (!ticket) throw full()
      c.req.raw.signal.addEventListener('abort', () => ticket.cancel())
      const result = unwrap(await ticket.outcome)
      return new Response(result.bytes, {
        headers: {
          'Content-Type': result.contentType,
          'Cache-Control': 'no-store',
          'X-Seed': String(result.seed),
          'X-Model-Version': result.modelVersion,
          'Server-Timing': serverTiming(result.timings, scheduler.model.provider),
        },
      })
    },
  )

  app.notFound((c) =>
    problemResponse(problemBody('not_found', `no route ${c.req.method} ${c.req.path}`, c.get('requestId'))),
  )

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? ''
    if (err instanceof ApiError) {
      metrics.errors.inc({ code: err.code })
      return problemResponse(
        problemBody(err.code, err.message, requestId, err.status, err.errors),
        err.headers,
      )
    }
    console.error('backend: unhandled error', err)
    metrics.errors.inc({ code: 'internal' })
    return problemResponse(problemBody('internal', 'internal error', requestId))
  })

  return app
}

async function parseJob(
  body: Uint8Array,
  contentType: string,
): Promise<{ job: BackendJob; parts: Map<string, Uint8Array> }> {
  const decoded = await decodeBackendBody(body, contentType)
  if (!decoded.ok) throw new ApiError('invalid_request', decoded.detail)
  // Only input images may take a body past a job's limit.
  if (!decoded.inputs.size && body.length > BACKEND_JOB_MAX_BYTES)
    throw new ApiError(
      'payload_too_large',
      `a job without input images is at most ${BACKEND_JOB_MAX_BYTES} bytes`,
    )
  const parsed = BackendJob.safeParse(decoded.job)
  if (!parsed.success) {
    const errors: FieldError[] = parsed.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    }))
    throw new ApiError('invalid_request', 'the body is not a backend job', { errors })
  }
  if (!(await verifyJobKey(parsed.data)))
    throw new ApiError('invalid_request', 'the key does not match the job', {
      errors: [{ path: 'key', message: 'is not the request key of the job' }],
    })
  return { job: parsed.data, parts: decoded.inputs }
}

/**
 * The model's scheduler. A model or weights version this process does not serve is a 503, like a full queue:
 * the edge then tries the next backend of its pool, which may serve it.
 */
function schedulerFor(state: ServiceState, job: BackendJob): ModelScheduler {
  if (!state.ready)
    throw new ApiError(
      'backend_unavailable',
      state.failure ? 'the models failed to load' : 'the models are still loading',
      {
        headers: { 'Retry-After': String(LOADING_RETRY_AFTER_S) },
      },
    )
  const s = state.models.get(job.model)
  const version = s?.model.manifest.weights_version
  if (!s || version !== job.model_version)
    throw new ApiError(
      'backend_unavailable',
      s
        ? `${job.model} weights ${job.model_version} are not loaded here (this backend has ${version})`
        : `${job.model} is not served here`,
      { headers: { 'Retry-After': String(LOADING_RETRY_AFTER_S) } },
    )
  return s
}

function unwrap(outcome: JobOutcome): JobResult {
  if (outcome.ok) return outcome.result
  throw new ApiError(outcome.code as ErrorCode, outcome.detail)
}

function resultEvent(r: JobResult): BackendResult {
  return { content_type: r.contentType, seed: r.seed, model_version: r.modelVersion, b64: toBase64(r.bytes) }
}

/** The job's phases, and the execution provider that ran it. */
export function serverTiming(t: JobResult['timings'], provider: string): string {
  const order = ['queue', 'text', 'image', 'stage_c', 'stage_b', 'stage_a', 'encode'] as const
  return [...order.map((k) => `${k};dur=${t[k].toFixed(1)}`), `provider;desc="${provider}"`].join(', ')
}
