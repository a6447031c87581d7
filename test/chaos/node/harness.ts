// What the chaos suite's node half shares: real backends and `wrangler dev` (test/support/processes.ts) on
// loopback ports 18900-18949, requests signed the way the edge signs them, and the checks every error answer must
// pass (RFC 9457 problem+json with a stable code, nothing of the server's insides).
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { expect } from 'vitest'
import { backendJob } from '../../../gpu-backend/test/backend-job.ts'
import {
  type BackendJob,
  GenerationRequest,
  type GenerationRequestInput,
  type Job,
  PROBLEM_STATUS,
  Problem,
  resolveRequest,
  signRequest,
  toBackendJob,
} from '../../../shared/src/index.ts'
import {
  type BackendOptions,
  makeTinyModel,
  type Proc,
  ROOT,
  startBackend,
  type TinyModel,
  waitFor,
} from '../../support/processes.ts'

export { readEvents } from '../../support/sse-stream.ts'

export const SECRET = 'chaos-backend-secret'
export const loopback = (port: number) => `http://127.0.0.1:${port}`

let model: TinyModel | undefined
/** One tiny model directory per test file. */
export function tinyModel(): TinyModel {
  model ??= makeTinyModel(5)
  return model
}

export interface Backend {
  proc: Proc
  url: string
}

/** A backend on `port` serving the tiny model (CPU), started and, unless `ready` is false, ready. */
export async function backend(
  port: number,
  o: Partial<Omit<BackendOptions, 'port'>> & { ready?: boolean } = {},
): Promise<Backend> {
  const proc = startBackend({
    port,
    secret: SECRET,
    modelDirs: o.modelDirs ?? [tinyModel().dir],
    env: { ORT_PROVIDER: 'cpu', ...o.env },
  })
  const url = loopback(port)
  await waitFor(`${url}/${o.ready === false ? 'healthz' : 'readyz'}`, proc)
  return { proc, url }
}

/** A job for the tiny model, as the edge would send it (key included): one step per stage unless overridden. */
export const tinyJob = (over: Partial<Job> = {}): Promise<BackendJob> =>
  backendJob({ model_version: tinyModel().version, prior_steps: 1, decoder_steps: 1, ...over })

export interface PostOptions {
  accept?: string
  contentType?: string | null
  /** Replaces the signature headers (or adds to them). */
  headers?: Record<string, string>
  secret?: string
  nowMs?: number
  signal?: AbortSignal
}

/** `POST {url}/v1/generate`, HMAC-signed over exactly these bytes (unless opts.headers says otherwise). */
export async function signedPost(
  url: string,
  body: string | Uint8Array,
  o: PostOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: o.accept ?? 'image/*',
    ...(o.contentType === null ? {} : { 'Content-Type': o.contentType ?? 'application/json' }),
    ...(await signRequest(o.secret ?? SECRET, body, o.nowMs)),
    ...o.headers,
  }
  return fetch(`${url}/v1/generate`, {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
    headers,
    ...(o.signal ? { signal: o.signal } : {}),
  })
}

/** What must never reach a client: stack frames and the server's own file paths. */
const LEAKS: RegExp[] = [
  /\n\s+at\s/,
  /\bat [^\s(]+ \(/,
  /node_modules/,
  /\.ts:\d+/,
  /file:\/\//,
  new RegExp(ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
  new RegExp(tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
]

/** The substrings of `text` that leak, leaving out what the client sent itself (an echoed field name is fine). */
export function leaks(text: string, sent: string | Uint8Array = ''): string[] {
  const request = typeof sent === 'string' ? sent : new TextDecoder().decode(sent)
  return LEAKS.flatMap((re) => {
    const m = re.exec(text)
    return m && !request.includes(m[0]) ? [m[0]] : []
  })
}

/**
 * Checks an error answer: problem+json whose body is a valid Problem, whose code is the stable code of its status,
 * with nothing leaked; `status` and `code`, when given, must match. Returns the problem.
 */
export async function expectProblem(
  res: Response,
  want: { status?: number; code?: Problem['code'] } = {},
  sent: string | Uint8Array = '',
): Promise<Problem> {
  const text = await res.text()
  const context = `HTTP ${res.status}: ${text.slice(0, 500)}`
  expect(res.headers.get('Content-Type'), context).toBe('application/problem+json')
  const parsed = Problem.safeParse(JSON.parse(text))
  expect(parsed.success, context).toBe(true)
  const p = parsed.data as Problem
  expect(p.status, context).toBe(res.status)
  expect(PROBLEM_STATUS[p.code], context).toBe(res.status)
  if (want.status !== undefined) expect(res.status, context).toBe(want.status)
  if (want.code !== undefined) expect(p.code, context).toBe(want.code)
  expect(leaks(text, sent), context).toEqual([])
  return p
}

/** One sample of a Prometheus text exposition: `name{labels}` (labels as written) -> value. */
export type Samples = Map<string, number>

export async function scrape(url: string): Promise<Samples> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** A sample's value; absent series count as 0 (a counter not yet incremented is not rendered). */
export const sample = (s: Samples, series: string): number => s.get(series) ?? 0

export const MODEL_LABEL = '{model="wuerstchen-v2"}'
export const generated = async (url: string) =>
  sample(await scrape(url), `cascade_images_generated_total${MODEL_LABEL}`)

/** Polls until `check` holds; `what` names it in the error (the limit only stops a hung test). */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 60_000,
): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Resident memory of a process (KiB), from /proc. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1])
}

/** The backend job the edge makes of this public request (its first image), on the tiny model. */
export async function edgeJob(req: GenerationRequestInput): Promise<BackendJob> {
  const r = await resolveRequest(GenerationRequest.parse(req), { 'wuerstchen-v2': tinyModel().version })
  if (!r.ok) throw new Error(`not a valid request: ${JSON.stringify(r.errors)}`)
  return toBackendJob(r.value.jobs[0] as Job)
}

/**
 * Which backend of a pool of `poolSize` the edge tries first for this request (edge/src/backend/client.ts starts
 * at the key's first 32 bits modulo the pool size), so a test can aim a request at a faulty backend.
 */
export async function firstBackend(req: GenerationRequestInput, poolSize: number): Promise<number> {
  return Number.parseInt((await edgeJob(req)).key.slice(0, 8), 16) % poolSize
}
