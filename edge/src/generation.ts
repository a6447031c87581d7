// What generate, jobs and the OpenAI image endpoints share: request resolution (input images read and checked,
// a 400 naming each bad field), the cache lookup, the limit charges, storing the inputs, and the coordinated
// generation of the missing images.
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
} from '../../shared/src/index.ts'
import { modelCapabilities, modelVersions } from './config.ts'
import type { AppEnv } from './env.ts'
import { ApiError } from './errors.ts'
import { hasInputs, jsonInputs, readInputs } from './inputs.ts'
import { chargeGeneration, chargeRead } from './middleware/rate-limit.ts'
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
  const memoKey = `${c.env.MODEL_VERSIONS}\n${publicOrigin(c)}\n${JSON.stringify(req)}`
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

/** Generates the missing images through their coordinators; throws the first failure as a problem. */
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
  const out = new Map<number, Uint8Array>()
  for (const [i, r] of results) {
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
