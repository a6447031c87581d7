// The edge -> backend contract: the normalized job (what the request key hashes), the backend job (job + key) and
// the SSE wire format of `POST {backend}/v1/generate` with `Accept: text/event-stream`.
//
// Wire format (text/event-stream, UTF-8, one JSON object per `data:` line, events separated by a blank line):
//
//   event: queued      data: {"position": 0}                        zero or more, while waiting in the queue
//   event: progress    data: {"stage": "c", "step": 3, "steps": 20} stage: text | c | b | a | encode
//   event: preview     data: {"stage": "c", "step": 3, "steps": 20, "content_type": "image/jpeg", "b64": "…"}
//                      zero or more: Stage C's x0 through the previewer (throttled; models with a previewer)
//   event: result      data: {"content_type": "image/png", "seed": 42, "model_version": "…", "b64": "<base64>"}
//   event: error       data: {"status": 503, "code": "backend_unavailable", "detail": "…", "errors": [...]}
//
// Exactly one `result` or `error` ends the stream; the backend closes the connection after it. Lines starting with
// `:` are comments (keep-alives). A stream that ends without `result`/`error`, or a result whose bytes are not an
// image of the requested format, is a failed attempt: nothing is cached.
//
// With `Accept: image/*` the backend answers the encoded image bytes instead, with headers `Content-Type`,
// `X-Seed`, `X-Model-Version` and `Server-Timing` (queue, text, image, stage_c, stage_b, stage_a, encode).
//
// A job with input images (its `image`, `mask`, `control.image` are sha256 hashes) is sent as
// multipart/form-data (backend-body.ts): the job as JSON, then each input's bytes, the whole body signed. The
// backend decodes every input before queueing; an input it cannot use is a 400 `invalid_request` whose
// `errors` name the field (`image`, `mask`, `control.image`), which the edge passes on to the client.
import { z } from 'zod'
import { MODEL_IDS } from '../models.ts'
import { OUTPUT_FORMATS, TILING_AXES } from './generation.ts'
import { JobImageFields } from './inputs.ts'
import { STAGES } from './jobs.ts'
import { ERROR_CODES, FieldError } from './problem.ts'

export const JOB_SCHEMA_VERSION = 1
export const KEY_PATTERN = /^[0-9a-f]{64}$/

/** One image's fully resolved job. Its canonical JSON is what the request key hashes. */
export const Job = z
  .strictObject({
    v: z.literal(JOB_SCHEMA_VERSION),
    model: z.enum(MODEL_IDS),
    model_version: z.string().min(1),
    prompt: z.string().max(2000),
    negative_prompt: z.string().max(2000),
    width: z.number().int(),
    height: z.number().int(),
    seed: z.number().int().min(0).max(4294967295),
    prior_steps: z.number().int().min(1),
    prior_guidance: z.number().min(0),
    decoder_steps: z.number().int().min(1),
    decoder_guidance: z.number().min(0),
    output_format: z.enum(OUTPUT_FORMATS),
    /** Absent for an image that does not tile, so the keys of untiled requests stay what they were. */
    tiling: z.enum(TILING_AXES).optional(),
    // Absent for text-to-image, so the keys of text jobs are what they were before image inputs existed.
    ...JobImageFields,
  })
  .meta({ id: 'Job' })
export type Job = z.infer<typeof Job>

/** The body of `POST {backend}/v1/generate`: the job plus its key; the backend recomputes and compares the key. */
export const BackendJob = Job.extend({ key: z.string().regex(KEY_PATTERN) }).meta({ id: 'BackendJob' })
export type BackendJob = z.infer<typeof BackendJob>

export const BackendQueued = z.object({ position: z.number().int().min(0) })
export const BackendProgress = z.object({
  stage: z.enum(STAGES),
  step: z.number().int().min(0),
  steps: z.number().int().min(1),
})
export const BackendPreview = z.object({
  stage: z.literal('c'),
  step: z.number().int().min(1),
  steps: z.number().int().min(1),
  content_type: z.string(),
  b64: z.string().min(1),
})
export const BackendResult = z.object({
  content_type: z.string(),
  seed: z.number().int(),
  model_version: z.string(),
  b64: z.string().min(1),
})
export const BackendError = z.object({
  status: z.number().int(),
  code: z.enum(ERROR_CODES).or(z.string()),
  detail: z.string(),
  errors: z.array(FieldError).optional(),
})
export type BackendProgress = z.infer<typeof BackendProgress>
export type BackendPreview = z.infer<typeof BackendPreview>
export type BackendResult = z.infer<typeof BackendResult>
export type BackendError = z.infer<typeof BackendError>

export type BackendEvent =
  | { event: 'queued'; data: z.infer<typeof BackendQueued> }
  | { event: 'progress'; data: BackendProgress }
  | { event: 'preview'; data: BackendPreview }
  | { event: 'result'; data: BackendResult }
  | { event: 'error'; data: BackendError }

export const BACKEND_EVENT_SCHEMAS = {
  queued: BackendQueued,
  progress: BackendProgress,
  preview: BackendPreview,
  result: BackendResult,
  error: BackendError,
} as const

/** What one model on a backend can take now (GET {backend}/readyz): the edge's queue consumer prefers the most free. */
export const BackendCapacity = z.object({
  /** Jobs it would admit now; 0: a new job gets 503. */
  free_slots: z.number().int().min(0),
  /** Jobs waiting, the running batch not counted. */
  queue_depth: z.number().int().min(0),
  /** Jobs in the batch now running. */
  running: z.number().int().min(0),
  /** Seconds until a new job would likely be admitted. */
  retry_after_s: z.number().min(0),
})
export type BackendCapacity = z.infer<typeof BackendCapacity>

/** `GET {backend}/readyz` when ready (200): each model served, with its weights version and capacity. */
export const BackendReadiness = z.object({
  status: z.literal('ready'),
  models: z.array(z.object({ id: z.string(), version: z.string(), capacity: BackendCapacity })),
})
export type BackendReadiness = z.infer<typeof BackendReadiness>
