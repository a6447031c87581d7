// The edge side of `POST {backend}/v1/generate` (api.md "Edge -> backend"; wire format in
// shared/src/schemas/backend.ts). One call = attempts over the pool in the caller's order (direct dispatch starts
// at a backend picked by the key so load spreads, `keyOrder`; the queue consumer puts the backends with the most
// free slots first, pool.ts); the next backend is tried on a connection error, a 5xx/429 (a full queue is 503), a garbage
// answer or a timeout (a hung backend must not fail every request aimed at it; aborting the call is what
// cancels the job on a backend that was merely slow, so the retry does not double the work). When every
// backend failed, a timeout among them makes the answer 504 backend_timeout, else 503 backend_unavailable.
// A job with input images goes as a signed multipart body (shared backend-body.ts); a backend that cannot use
// an input answers 400 naming its field, which is the client's answer too (no other backend is tried: the
// decoding is the same everywhere).

import { z } from 'zod'
import {
  BACKEND_EVENT_SCHEMAS,
  type BackendEvent,
  type BackendJob,
  CONTENT_TYPES,
  type ErrorCode,
  encodeBackendBody,
  type FieldError,
  fromBase64,
  INPUT_FIELDS,
  SseParser,
  signRequest,
} from '../../../shared/src/index.ts'
import { imageSize, isCompleteImage } from './image-check.ts'

export interface BackendConfig {
  /** The backends in the order they are tried. */
  urls: string[]
  secret: string
  timeoutMs: number
}

export interface GeneratedImage {
  ok: true
  bytes: Uint8Array
  contentType: string
  seed: number
  /** The backend's Server-Timing header (sync mode). */
  timing?: string
}

export interface GenerationFailure {
  ok: false
  code: ErrorCode
  status: number
  detail: string
  retryAfter?: number
  /** Every backend refused for load (503/429) or could not be reached: the pool is saturated or down, not broken. */
  busy?: boolean
  /** A refused input: the fields the backend named (400 invalid_request). */
  errors?: FieldError[]
  /** Inputs whose bytes the backend could not decode (their stored copies can go). */
  refusedInputs?: string[]
}

export type GenerationOutcome = GeneratedImage | GenerationFailure

export interface CallOptions {
  /** true: `Accept: text/event-stream` with progress (and previews) via onEvent; false: `Accept: image/*`. */
  stream: boolean
  /** The bytes of every input the job names, by sha256. */
  inputs?: ReadonlyMap<string, Uint8Array>
  signal?: AbortSignal
  onEvent?: (e: BackendEvent) => void
}

type Attempt =
  | GenerationOutcome
  | { retry: true; detail: string; retryAfter?: number; timedOut?: true; busy?: true }

export async function callBackend(
  cfg: BackendConfig,
  job: BackendJob,
  opts: CallOptions,
): Promise<GenerationOutcome> {
  if (!cfg.urls.length) return unavailable('no backends configured', 5)
  const body = encodeBackendBody(job, opts.inputs ?? new Map())
  const reasons: string[] = []
  let retryAfter = 0
  let timedOut = false
  let busy = true
  for (const url of cfg.urls) {
    if (opts.signal?.aborted) break
    const r = await attempt(cfg, url, job, body, opts)
    if (!('retry' in r)) return r
    reasons.push(`${url}: ${r.detail}`)
    retryAfter = Math.max(retryAfter, r.retryAfter ?? 0)
    timedOut ||= r.timedOut === true
    busy &&= r.busy === true
  }
  if (opts.signal?.aborted) return { ok: false, code: 'canceled', status: 409, detail: 'generation canceled' }
  // The reasons name the backends: they go to the log, never to the client (the pool is internal).
  console.warn(`backend call for ${job.key} failed: ${reasons.join('; ')}`)
  const tried = `${cfg.urls.length} backend${cfg.urls.length === 1 ? '' : 's'} tried`
  if (timedOut)
    return {
      ok: false,
      code: 'backend_timeout',
      status: 504,
      detail: `no backend answered in time (${tried})`,
    }
  return {
    ...unavailable(`no backend could generate the image (${tried})`, retryAfter || 5),
    ...(busy ? { busy } : {}),
  }
}

/** The pool rotated to start at a backend picked by the key's first 32 bits: equal keys, equal first choice. */
export function keyOrder<T>(pool: readonly T[], key: string): T[] {
  const start = pool.length ? Number.parseInt(key.slice(0, 8), 16) % pool.length : 0
  return [...pool.slice(start), ...pool.slice(0, start)]
}

const unavailable = (detail: string, retryAfter: number): GenerationFailure => ({
  ok: false,
  code: 'backend_unavailable',
  status: 503,
  detail,
  retryAfter,
})

async function attempt(
  cfg: BackendConfig,
  url: string,
  job: BackendJob,
  body: { body: Uint8Array; contentType: string },
  opts: CallOptions,
): Promise<Attempt> {
  const ctrl = new AbortController()
  let timedOut = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => {
      timedOut = true
      ctrl.abort()
    }, cfg.timeoutMs)
  }
  const onAbort = () => ctrl.abort()
  opts.signal?.addEventListener('abort', onAbort)
  arm()
  try {
    const res = await fetch(`${url}/v1/generate`, {
      method: 'POST',
      body: body.body,
      signal: ctrl.signal,
      headers: {
        'Content-Type': body.contentType,
        Accept: opts.stream ? 'text/event-stream' : 'image/*',
        ...(await signRequest(cfg.secret, body.body)),
      },
    })
    if (res.status === 503 || res.status === 429 || res.status >= 500) {
      await res.body?.cancel()
      return {
        retry: true,
        detail: `HTTP ${res.status}`,
        retryAfter: Number(res.headers.get('Retry-After')) || 0,
        ...(res.status === 503 || res.status === 429 ? { busy: true as const } : {}),
      }
    }
    if (res.status === 400) {
      const text = await res.text()
      return inputRefusal(text) ?? rejected(url, job, `HTTP 400 ${text.slice(0, 500)}`)
    }
    if (!res.ok) return rejected(url, job, `HTTP ${res.status} ${(await res.text()).slice(0, 500)}`)
    return opts.stream ? await readStream(url, res, job, opts, arm) : await readImage(res, job)
  } catch (err) {
    if (timedOut) return { retry: true, timedOut: true, detail: `no answer within ${cfg.timeoutMs} ms` }
    if (opts.signal?.aborted)
      return { ok: false, code: 'canceled', status: 409, detail: 'generation canceled' }
    return { retry: true, busy: true, detail: `connection failed: ${(err as Error).message}` }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

const RefusedInputs = z.object({
  code: z.literal('invalid_request'),
  errors: z.array(z.object({ path: z.enum(INPUT_FIELDS), message: z.string().max(300) })).min(1),
  refused_inputs: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
})

/**
 * A 400 whose errors all name input fields is the backend's refusal of the request's images: the client's answer.
 * Its messages are the backend's fixed texts about the images (decode.ts, job-inputs.ts), safe to pass on.
 */
function inputRefusal(text: string): GenerationFailure | undefined {
  let parsed: z.infer<typeof RefusedInputs> | undefined
  try {
    parsed = RefusedInputs.safeParse(JSON.parse(text)).data
  } catch {
    return undefined
  }
  if (!parsed) return undefined
  return {
    ok: false,
    code: 'invalid_request',
    status: 400,
    detail: 'the input images cannot be used',
    errors: parsed.errors,
    ...(parsed.refused_inputs?.length ? { refusedInputs: parsed.refused_inputs } : {}),
  }
}

/**
 * A backend refused the job (a 4xx: the edge and the backend disagree, e.g. on the secret or the job schema). Its
 * words (free text, possibly paths or stack frames) go to the log; the client gets the stable `internal` problem.
 */
function rejected(url: string, job: BackendJob, what: string): GenerationFailure {
  console.error(`backend ${url} rejected job ${job.key}: ${what}`)
  return { ok: false, code: 'internal', status: 500, detail: 'the backend rejected the job' }
}

async function readImage(res: Response, job: BackendJob): Promise<Attempt> {
  const contentType = (res.headers.get('Content-Type') ?? '').split(';')[0]?.trim() ?? ''
  const bytes = new Uint8Array(await res.arrayBuffer())
  const seed = Number(res.headers.get('X-Seed'))
  const problem = checkImage(job, bytes, contentType, seed, res.headers.get('X-Model-Version'))
  if (problem) return { retry: true, detail: `garbage answer: ${problem}` }
  return { ok: true, bytes, contentType, seed, timing: res.headers.get('Server-Timing') ?? undefined }
}

async function readStream(
  url: string,
  res: Response,
  job: BackendJob,
  opts: CallOptions,
  rearm: () => void,
): Promise<Attempt> {
  if (!res.body || !(res.headers.get('Content-Type') ?? '').startsWith('text/event-stream'))
    return { retry: true, detail: 'garbage answer: not an event stream' }
  const parser = new SseParser()
  const decoder = new TextDecoder()
  const reader = res.body.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return { retry: true, detail: 'garbage answer: stream ended without a result' }
      rearm()
      for (const msg of parser.push(decoder.decode(value, { stream: true }))) {
        const ev = parseEvent(msg.event, msg.data)
        if (!ev) return { retry: true, detail: `garbage answer: bad "${msg.event}" event` }
        if (ev.event === 'queued' || ev.event === 'progress' || ev.event === 'preview') opts.onEvent?.(ev)
        else if (ev.event === 'error') {
          if (ev.data.status >= 500) return { retry: true, detail: `backend error: ${ev.data.detail}` }
          return rejected(url, job, `${ev.data.code} ${ev.data.status}: ${ev.data.detail}`)
        } else {
          const bytes = fromBase64(ev.data.b64)
          const problem = checkImage(job, bytes, ev.data.content_type, ev.data.seed, ev.data.model_version)
          if (problem) return { retry: true, detail: `garbage answer: ${problem}` }
          return { ok: true, bytes, contentType: ev.data.content_type, seed: ev.data.seed }
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}

function parseEvent(event: string, data: string): BackendEvent | undefined {
  const schema = BACKEND_EVENT_SCHEMAS[event as keyof typeof BACKEND_EVENT_SCHEMAS]
  if (!schema) return undefined
  try {
    const parsed = schema.safeParse(JSON.parse(data))
    return parsed.success ? ({ event, data: parsed.data } as BackendEvent) : undefined
  } catch {
    return undefined
  }
}

/** undefined when the answer is a complete image of the job's format, size, seed and weights; else why not. */
function checkImage(
  job: BackendJob,
  bytes: Uint8Array,
  contentType: string,
  seed: number,
  modelVersion: string | null,
): string | undefined {
  if (contentType !== CONTENT_TYPES[job.output_format]) return `content type "${contentType}"`
  if (seed !== job.seed) return `seed ${seed} instead of ${job.seed}`
  if (modelVersion !== job.model_version) return `model version "${modelVersion}"`
  if (!isCompleteImage(job.output_format, bytes)) return 'not a complete image'
  const size = imageSize(job.output_format, bytes)
  if (size?.width !== job.width || size.height !== job.height)
    return `a ${size ? `${size.width}x${size.height}` : 'sizeless'} image for a ${job.width}x${job.height} job`
  return undefined
}
