// What generate, jobs and the OpenAI image endpoints share: request resolution (input images read and checked,
// a 400 naming each bad field), the cache lookup, the limit charges, storing the inputs, the coordinated generation
// of the missing images, and starting a job. A sync request dispatches directly; when every backend is busy or
// unreachable it hands its images to the jobs queue and waits for that job (SYNC_WAIT_MS), so a saturated pool makes
// a client wait, not fail: 503 + Retry-After comes only from a queue that refuses the work (or gave up on it).
import type { Context } from 'hono'
import {
  type BackendJob,
  type GenerationRequest,
  type GenerationResponse,
  type ImageDatum,
  type InputField,
  type OutputFormat,
  resolveRequest,
  toBackendJob,
  toBase64,
  toHex,
} from '../../shared/src/index.ts'
import { modelCapabilities, modelVersions, syncWaitMs, tilingModels } from './config.ts'
import { type JobState, jobRecord } from './durable-objects/job-record.ts'
import type { AppEnv } from './env.ts'
import { ApiError } from './errors.ts'
import { hasInputs, jsonInputs, readInputs } from './inputs.ts'
import { chargeGeneration, chargeRead, refundGeneration } from './middleware/rate-limit.ts'
import { imageExists, imagePath, putCache, readImage } from './storage/images.ts'
import { storeInputs } from './storage/inputs.ts'

export interface Prepared {
  req: GenerationRequest
  model: GenerationRequest['model'] & string
  format: OutputFormat
  jobs: BackendJob[]
  origin: string
  /** The input images by sha256 (stored only once a generation needs them: saveInputs). */
  inputs: Map<string, Uint8Array>
}

/** Image inputs by field: base64 strings (JSON) or bytes (multipart). */
export type GivenInputs = Partial<Record<InputField, Uint8Array | string>>

export const publicOrigin = (c: Context<AppEnv>) => c.env.PUBLIC_BASE_URL || new URL(c.req.url).origin

// Resolving a request (defaults, normalization, two SHA-256s per image) is a pure function of the request and
// the configured model versions, so repeated requests (cache hits) reuse it. Bounded, oldest dropped first.
const RESOLVED_MAX = 1000
const resolved = new Map<string, Promise<Prepared>>()

export function prepare(
  c: Context<AppEnv>,
  req: GenerationRequest,
  given: GivenInputs = jsonInputs(req),
): Promise<Prepared> {
  // Requests with images are resolved each time: their inputs are read and hashed from this request's body.
  if (hasInputs(given)) return resolve(c, req, given)
  const memoKey = [
    c.env.MODEL_VERSIONS,
    c.env.TILING_MODELS,
    c.env.MODEL_CAPABILITIES,
    publicOrigin(c),
    JSON.stringify(req),
  ].join('\n')
  let p = resolved.get(memoKey)
  if (!p) {
    p = resolve(c, req, given)
    p.catch(() => resolved.delete(memoKey))
    if (resolved.size >= RESOLVED_MAX) resolved.delete(resolved.keys().next().value as string)
    resolved.set(memoKey, p)
  }
  return p
}

async function resolve(c: Context<AppEnv>, req: GenerationRequest, given: GivenInputs): Promise<Prepared> {
  const inputs = hasInputs(given)
    ? await readInputs(given)
    : { infos: {}, bytes: new Map<string, Uint8Array>() }
  const r = await resolveRequest(req, modelVersions(c.env), {
    inputs: inputs.infos,
    capabilities: modelCapabilities(c.env),
    tilingModels: tilingModels(c.env),
  })
  if (!r.ok)
    throw new ApiError('invalid_request', `${r.errors.length} invalid field(s)`, { errors: r.errors })
  const jobs = await Promise.all(r.value.jobs.map(toBackendJob))
  return {
    req,
    model: r.value.model,
    format: r.value.output_format,
    jobs,
    origin: publicOrigin(c),
    inputs: inputs.bytes,
  }
}

/** Stores the request's inputs (once each) for the generations about to start. */
export async function saveInputs(c: Context<AppEnv>, p: Prepared): Promise<void> {
  if (p.inputs.size) await c.get('timing').time('inputs', storeInputs(c.env.IMAGES, p.inputs))
}

/** Indices of the jobs whose image is not stored yet. */
export async function findMisses(c: Context<AppEnv>, p: Prepared): Promise<number[]> {
  const exists = await c
    .get('timing')
    .time('cache', Promise.all(p.jobs.map((j) => imageExists(c.env.IMAGES, p.origin, j.key, p.format))))
  return exists.flatMap((hit, i) => (hit ? [] : [i]))
}

/**
 * Generates the missing images through their coordinators; throws the first failure as a problem. When every
 * failure is a busy (or unreachable) pool and a jobs queue is bound, the failed images go through the queue and
 * the answer waits for that job.
 */
export async function generateMissing(
  c: Context<AppEnv>,
  p: Prepared,
  misses: number[],
): Promise<Map<number, Uint8Array>> {
  const waiter = c.get('requestId')
  await saveInputs(c, p)
  const results = await c.get('timing').time(
    'generate',
    Promise.all(
      misses.map(async (i) => {
        const job = p.jobs[i] as BackendJob
        const stub = c.env.GENERATION.get(c.env.GENERATION.idFromName(job.key))
        return [i, await stub.generate(job, `${waiter}:${i}`)] as const
      }),
    ),
  )
  const failures = results.flatMap(([i, r]) => (r.ok ? [] : [{ i, ...r }]))
  const queued = c.env.JOB_QUEUE !== undefined && failures.length > 0 && failures.every((f) => f.busy)
  if (queued)
    await waitInQueue(
      c,
      p,
      failures.map((f) => f.i),
      Math.max(...failures.map((f) => f.retryAfter ?? 0)),
    )
  const out = new Map<number, Uint8Array>()
  for (const [i, r] of results) {
    if (!r.ok && queued) continue
    if (!r.ok)
      throw new ApiError(r.code, r.detail, {
        status: r.status,
        headers: r.retryAfter ? { 'Retry-After': String(r.retryAfter) } : {},
        ...(r.errors ? { errors: r.errors } : {}),
      })
    const job = p.jobs[i] as BackendJob
    c.executionCtx.waitUntil(putCache(p.origin, job.key, p.format, r.bytes))
    if (!r.cached && 'timing' in r && misses.length === 1) c.get('timing').addUpstream(r.timing)
    out.set(i, r.bytes)
  }
  return out
}

/** When the jobs queue refuses work, come back after about this long. */
const QUEUE_REFUSED_RETRY_S = 10

/**
 * Records a job for `jobs` (of which `misses` are not stored yet) and starts it: queued, or at once without a
 * queue. A refusal by the queue gives back the quota charged for the misses and answers 503 + Retry-After.
 */
export async function startJob(
  c: Context<AppEnv>,
  p: Prepared,
  jobs: BackendJob[],
  misses: number,
): Promise<{ id: string; state: JobState }> {
  const id = `job_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`
  const spec = {
    id,
    model: p.model,
    created: Math.floor(Date.now() / 1000),
    requestId: c.get('requestId'),
    jobs,
  }
  const state = await jobRecord(c.env, id).start(spec, p.origin, misses)
  if (state) return { id, state }
  if (misses) await refundGeneration(c, misses)
  throw new ApiError('backend_unavailable', 'the jobs queue did not take the job; try again later', {
    headers: { 'Retry-After': String(QUEUE_REFUSED_RETRY_S) },
  })
}

/** The busy images as one queued job, waited for: their bytes are then in storage. */
async function waitInQueue(
  c: Context<AppEnv>,
  p: Prepared,
  images: number[],
  retryAfterS: number,
): Promise<void> {
  const { id } = await startJob(
    c,
    p,
    images.map((i) => p.jobs[i] as BackendJob),
    images.length,
  )
  const end = await c.get('timing').time('queue', jobRecord(c.env, id).settled(syncWaitMs(c.env)))
  if (end?.status === 'succeeded') return
  if (end?.status === 'failed' && end.error)
    throw new ApiError(end.error.code, end.error.detail, {
      status: end.error.status,
      headers:
        end.error.status === 503 ? { 'Retry-After': String(retryAfterS || QUEUE_REFUSED_RETRY_S) } : {},
    })
  if (end?.status === 'canceled') throw new ApiError('canceled', `job ${id} was canceled`)
  throw new ApiError(
    'backend_timeout',
    `every backend was busy; the request still waits in the queue as job ${id} (GET /v1/jobs/${id})`,
  )
}

/** The response `data`: URLs, or base64 bytes (from `bytes` when just generated, else from storage). */
export async function renderData(
  c: Context<AppEnv>,
  p: Prepared,
  bytes: Map<number, Uint8Array> = new Map(),
): Promise<ImageDatum[]> {
  return Promise.all(
    p.jobs.map(async (job, i) => {
      if (p.req.response_format === 'url')
        return { url: p.origin + imagePath(job.key, p.format), seed: job.seed }
      let b = bytes.get(i)
      if (!b) {
        const img = await readImage(c.env.IMAGES, p.origin, job.key, p.format, (x) =>
          c.executionCtx.waitUntil(x),
        )
        if (!img) throw new ApiError('internal', 'stored image vanished')
        b = new Uint8Array(img.body)
      }
      return { b64_json: toBase64(b), seed: job.seed }
    }),
  )
}

/** The synchronous answer (generate, edits, variations): hits charged as reads, misses charged and generated. */
export async function respond(c: Context<AppEnv>, p: Prepared): Promise<GenerationResponse> {
  const misses = await findMisses(c, p)
  let bytes: Map<number, Uint8Array> | undefined
  if (misses.length === 0) await chargeRead(c)
  else {
    await chargeGeneration(c, misses.length)
    bytes = await generateMissing(c, p, misses)
  }
  const data = await renderData(c, p, bytes)
  c.header('X-Cache', misses.length === 0 ? 'HIT' : 'MISS')
  return { created: Math.floor(Date.now() / 1000), model: p.model, data }
}
