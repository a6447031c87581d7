// The body of `POST {backend}/v1/generate`. A job without input images is its JSON (application/json). A job with
// inputs is multipart/form-data: a `job` part (the JSON) and one part per input, named by its sha256, holding its
// bytes. The signature covers the whole body, so the inputs are as authenticated as the job; the backend checks
// each part's hash against the job, so an input can neither be swapped nor left out.
//
// Why the inputs travel in the signed body rather than being fetched by the backend from the edge: a backend
// needs no route to the edge and no second credential, a failed-over attempt carries everything it needs, and
// there is no extra round trip. The cost is the bytes of each attempt: at most 3 inputs of INPUT_LIMITS.maxBytes.
import { toHex } from './hex.ts'
import type { BackendJob } from './schemas/backend.ts'
import { INPUT_LIMITS, SHA256_PATTERN } from './schemas/inputs.ts'

/** A job is well under 10 KiB; this is its limit, and the rest of a body's limit is the inputs'. */
export const BACKEND_JOB_MAX_BYTES = 64 * 1024
export const BACKEND_BODY_MAX_BYTES = BACKEND_JOB_MAX_BYTES + 3 * (INPUT_LIMITS.maxBytes + 1024)

/** The input hashes a job names, each once. */
export function jobInputHashes(job: Pick<BackendJob, 'image' | 'mask' | 'control'>): string[] {
  return [...new Set([job.image, job.mask, job.control?.image].filter((h): h is string => h !== undefined))]
}

export interface BackendBody {
  body: Uint8Array
  contentType: string
}

const enc = new TextEncoder()

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The signed body for `job`; `inputs` maps each hash the job names to its bytes. */
export function encodeBackendBody(job: BackendJob, inputs: ReadonlyMap<string, Uint8Array>): BackendBody {
  const json = JSON.stringify(job)
  const hashes = jobInputHashes(job)
  if (!hashes.length) return { body: enc.encode(json), contentType: 'application/json' }
  const boundary = `cascade-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`
  const part = (name: string, type: string, bytes: Uint8Array) => [
    enc.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    bytes,
    enc.encode('\r\n'),
  ]
  const parts = [...part('job', 'application/json', enc.encode(json))]
  for (const h of hashes) {
    const bytes = inputs.get(h)
    if (!bytes) throw new Error(`encodeBackendBody: no bytes for input ${h}`)
    parts.push(...part(h, 'application/octet-stream', bytes))
  }
  parts.push(enc.encode(`--${boundary}--\r\n`))
  return { body: concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}

export type DecodedBody =
  | { ok: true; job: unknown; inputs: Map<string, Uint8Array> }
  | { ok: false; detail: string }

/** The job (parsed JSON, not yet checked) and the input parts of a verified body. */
export async function decodeBackendBody(body: Uint8Array, contentType: string): Promise<DecodedBody> {
  const json = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes))
  // JSON whatever the Content-Type says (a job's answer does not depend on the headers); multipart only when the
  // header announces it and the bytes are not JSON.
  try {
    return { ok: true, job: json(body), inputs: new Map() }
  } catch {
    if (!/^multipart\/form-data/i.test(contentType)) return { ok: false, detail: 'the body is not JSON' }
  }
  let form: FormData
  try {
    form = await new Response(body, { headers: { 'Content-Type': contentType } }).formData()
  } catch {
    return { ok: false, detail: 'the body is neither JSON nor multipart/form-data' }
  }
  const jobPart = form.get('job')
  if (!(jobPart instanceof Blob) && typeof jobPart !== 'string') return { ok: false, detail: 'no job part' }
  let job: unknown
  try {
    job =
      typeof jobPart === 'string' ? JSON.parse(jobPart) : json(new Uint8Array(await jobPart.arrayBuffer()))
  } catch {
    return { ok: false, detail: 'the job part is not JSON' }
  }
  const inputs = new Map<string, Uint8Array>()
  for (const [name, value] of form) {
    if (name === 'job') continue
    if (!SHA256_PATTERN.test(name) || !(value instanceof Blob))
      return { ok: false, detail: `unexpected part "${name.slice(0, 80)}"` }
    const bytes = new Uint8Array(await value.arrayBuffer())
    if (toHex(await crypto.subtle.digest('SHA-256', bytes)) !== name)
      return { ok: false, detail: `part ${name} does not match its sha256` }
    inputs.set(name, bytes)
  }
  return { ok: true, job, inputs }
}
