// Property-based fuzzing of the public API (fast-check), in batches of parallel requests: bodies, headers, paths
// and methods. Every response keeps the invariants of support.ts's checkResponse (never 5xx, problem+json with a
// stable code, nothing internal), and each case's own expectation (the status, the code, the offending fields).
//
// No fuzz case may generate an image: every request comes from one client address whose daily quota is used up
// beforehand (directly in its QuotaCounter), so a request that happens to be valid is answered 429 quota_exceeded
// after validation, normalization and the cache lookup, and never reaches the backend. At the end: no object in
// R2, no new KV key, not one generation call at the stand-in backend.
import { env } from 'cloudflare:test'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { type ErrorCode, GenerationRequest, resolveRequest } from '../../../shared/src/index.ts'
import { constructedBody, garbageBody } from './bodies.ts'
import {
  authorizationGarbage,
  contentTypeGarbage,
  method,
  neutralHeaders,
  pathRequest,
  requestIdGarbage,
  routeShapedPath,
} from './requests.ts'
import {
  awaitSameUtcDay,
  BASE,
  backendGenerations,
  checkResponse,
  describeSent,
  exhaustDailyQuota,
  type Sent,
  type StorageSnapshot,
  send,
  snapshotStorage,
  tierLimits,
} from './support.ts'

const FUZZ_IP = '192.0.2.66'
const MAX_BODY = 64 * 1024
const BATCH = 100
/** Batches per property; the four properties send 10,500 requests in all. */
const RUNS = { bodies: 40, headers: 25, paths: 25, methods: 15 }

interface Expectation {
  status: readonly number[]
  code?: ErrorCode
  /** Fields the problem's `errors` must name. */
  fields?: string[]
}
interface Case {
  sent: Sent
  expect: Expectation | Promise<Expectation>
  check?: (res: Response) => void
}

const QUOTA: Expectation = { status: [429], code: 'quota_exceeded' }
const INVALID: Expectation = { status: [400], code: 'invalid_request' }
const NOT_FOUND: Expectation = { status: [404], code: 'not_found' }
const OK: Expectation = { status: [200] }

const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
  'CF-Connecting-IP': FUZZ_IP,
  ...extra,
})

// --- what the API should answer ----------------------------------------------------------------------------------

const STATIC_GETS = new Set(['/', '/healthz', '/docs', '/openapi.json', '/v1/models'])
const GENERATE_POSTS = new Set(['/v1/images/generations', '/v1/jobs'])
const STANDARD_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']

/** Percent-decodes what decodeURI decodes (not `/`, `?`, `#`, …), run by run, keeping what does not decode. */
const looselyDecoded = (p: string) =>
  p.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURI(m)
    } catch {
      return m
    }
  })

/** Which route a request reaches, the way fetch normalizes the method and the URL parser the path. */
function routeOf(rawMethod: string, path: string): 'static' | 'generate' | 'none' {
  const upper = rawMethod.toUpperCase()
  const m = STANDARD_METHODS.includes(upper) ? upper : rawMethod
  const p = looselyDecoded(new URL(`${BASE}${path}`).pathname)
  if ((m === 'GET' || m === 'HEAD') && STATIC_GETS.has(p)) return 'static'
  if (m === 'POST' && GENERATE_POSTS.has(p)) return 'generate'
  return 'none'
}

/** A JSON body's answer, worked out here with the shared schema and resolution (fuzz identity: quota used up). */
async function expectForJson(bytes: Uint8Array): Promise<Expectation> {
  if (bytes.length > MAX_BODY) return { status: [413], code: 'payload_too_large' }
  let value: unknown
  try {
    // UTF-8 with replacement, a BOM kept (the server, like RFC 8259 allows, takes a BOM for malformed JSON).
    value = JSON.parse(new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes))
  } catch {
    return INVALID
  }
  const parsed = GenerationRequest.safeParse(value)
  if (!parsed.success) return INVALID
  const resolved = await resolveRequest(parsed.data, JSON.parse(env.MODEL_VERSIONS))
  return resolved.ok ? QUOTA : { ...INVALID, fields: resolved.errors.map((e) => e.path) }
}

const utf8 = (b: string | Uint8Array) => (typeof b === 'string' ? new TextEncoder().encode(b) : b)

// --- the four request families ------------------------------------------------------------------------------------

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON']
const generateRoute = fc.constantFrom('/v1/images/generations', '/v1/jobs')

const oversized = fc
  .tuple(fc.integer({ min: MAX_BODY + 1, max: 4 * MAX_BODY }), fc.boolean())
  .map(([size, streamed]) => {
    const text = `{"prompt":"${'o'.repeat(size - 13)}"}`
    return streamed
      ? () =>
          new ReadableStream<Uint8Array>({
            start(ctrl) {
              const bytes = new TextEncoder().encode(text)
              for (let i = 0; i < bytes.length; i += 16_384) ctrl.enqueue(bytes.slice(i, i + 16_384))
              ctrl.close()
            },
          })
      : text
  })

const bodyCase: fc.Arbitrary<Case> = fc
  .tuple(
    generateRoute,
    fc.oneof(
      { weight: 12, arbitrary: constructedBody.map((b) => ({ kind: 'constructed' as const, ...b })) },
      { weight: 8, arbitrary: garbageBody.map((body) => ({ kind: 'garbage' as const, body })) },
      { weight: 1, arbitrary: oversized.map((body) => ({ kind: 'oversized' as const, body })) },
    ),
    fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...JSON_TYPES) },
      { weight: 1, arbitrary: fc.option(contentTypeGarbage, { nil: undefined }) },
    ),
  )
  .map(([path, b, contentType]): Case => {
    const body = b.kind === 'constructed' ? b.text : b.body
    const sent: Sent = {
      method: 'POST',
      path,
      headers: headers(contentType ? { 'Content-Type': contentType } : {}),
      body,
    }
    const jsonType = contentType !== undefined && JSON_TYPES.includes(contentType)
    if (b.kind === 'oversized') return { sent, expect: { status: [413], code: 'payload_too_large' } }
    const bytes = utf8(b.kind === 'constructed' ? b.text : b.body)
    if (bytes.length > MAX_BODY) return { sent, expect: { status: [413], code: 'payload_too_large' } }
    // Not JSON by its Content-Type: rejected, unless the parser takes it as JSON anyway and it is valid.
    if (!jsonType) return { sent, expect: { status: [400, 429] } }
    if (b.kind === 'garbage') return { sent, expect: expectForJson(bytes) }
    return { sent, expect: b.bad.length ? { ...INVALID, fields: b.bad } : QUOTA }
  })

// Base requests with known answers; header mutations either force an answer (Authorization: 401) or must not
// change it (garbage Accept, huge or many headers, spoofed client addresses).
const BASES: [Sent, Expectation][] = [
  [{ method: 'GET', path: '/v1/models', headers: {} }, OK],
  [{ method: 'GET', path: '/healthz', headers: {} }, OK],
  [
    { method: 'POST', path: '/v1/images/generations', headers: {}, body: '{"prompt":""}' },
    { ...INVALID, fields: ['prompt'] },
  ],
  [{ method: 'POST', path: '/v1/jobs', headers: {}, body: '{"prompt":"headers fuzz"}' }, QUOTA],
  [
    {
      method: 'POST',
      path: '/v1/images/generations',
      headers: {},
      body: '{"prompt":"headers fuzz two","n":2}',
    },
    QUOTA,
  ],
  [{ method: 'GET', path: `/v1/images/${'0'.repeat(64)}.png`, headers: {} }, NOT_FOUND],
  [{ method: 'GET', path: `/v1/jobs/job_${'0'.repeat(32)}`, headers: {} }, NOT_FOUND],
  [{ method: 'GET', path: '/nope', headers: {} }, NOT_FOUND],
]
const SANE_ID = /^[\w.:-]{1,128}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const headerCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...BASES),
    fc.option(authorizationGarbage, { nil: undefined, freq: 3 }),
    fc.option(contentTypeGarbage, { nil: undefined, freq: 3 }),
    fc.option(requestIdGarbage, { nil: undefined, freq: 3 }),
    fc.array(neutralHeaders, { maxLength: 3 }),
  )
  .map(([[base, baseExpect], auth, contentType, requestId, neutral]): Case => {
    const h = headers(Object.fromEntries(neutral.flat()))
    const post = base.method === 'POST'
    if (post) h['Content-Type'] = contentType ?? 'application/json'
    if (requestId !== undefined) h['X-Request-Id'] = requestId
    if (auth !== undefined) h.Authorization = auth
    const expectation: Expectation =
      auth !== undefined
        ? { status: [401], code: 'unauthorized' }
        : post && contentType !== undefined && !JSON_TYPES.includes(contentType)
          ? { status: [400, 429] }
          : baseExpect
    const check = (res: Response) => {
      const id = res.headers.get('X-Request-Id') ?? ''
      const given = requestId?.trim()
      if (given !== undefined && SANE_ID.test(given)) expect(id).toBe(given)
      else expect(id).toMatch(UUID)
    }
    return { sent: { ...base, headers: h }, expect: expectation, check }
  })

const pathCase: fc.Arbitrary<Case> = fc
  .tuple(pathRequest, fc.option(fc.webQueryParameters(), { nil: undefined, freq: 4 }))
  .map(([[m, p], query]): Case => {
    const path = query === undefined ? p : `${p}?${query}`
    const route = routeOf(m, path)
    const expectation = route === 'static' ? OK : route === 'generate' ? INVALID : NOT_FOUND
    return { sent: { method: m, path, headers: headers() }, expect: expectation }
  })

const methodCase: fc.Arbitrary<Case> = fc
  .tuple(method, routeShapedPath, fc.constantFrom(undefined, '{"prompt":""}', '{"prompt":', 'x'))
  .map(([m, path, body]): Case => {
    const bodyless = ['GET', 'HEAD'].includes(m.toUpperCase())
    const sent: Sent = {
      method: m,
      path,
      headers: headers(bodyless ? {} : { 'Content-Type': 'application/json' }),
      ...(bodyless || body === undefined ? {} : { body }),
    }
    const route = routeOf(m, path)
    return { sent, expect: route === 'static' ? OK : route === 'generate' ? INVALID : NOT_FOUND }
  })

// --- running ------------------------------------------------------------------------------------------------------

let sentCount = 0

async function runCase(c: Case): Promise<void> {
  const expectation = await c.expect
  const seen = await send(c.sent)
  sentCount++
  const what = `${describeSent(c.sent)}\nexpected ${JSON.stringify(expectation)}\n-> ${seen.res.status} ${seen.text.slice(0, 400)}`
  const problem = checkResponse(c.sent, seen)
  expect(expectation.status, what).toContain(seen.res.status)
  if (expectation.code && c.sent.method !== 'HEAD') expect(problem?.code, what).toBe(expectation.code)
  if (expectation.fields && problem) {
    const named = (problem.errors ?? []).map((e) => e.path)
    for (const f of expectation.fields) expect(named, what).toContain(f)
  }
  c.check?.(seen.res)
}

/** Runs `numRuns` batches of BATCH parallel cases; a failure names its request and the seed that replays it. */
async function fuzz(arb: fc.Arbitrary<Case>, numRuns: number): Promise<void> {
  const property = fc.asyncProperty(fc.array(arb, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
    // Settle every request before failing, so none is still running when the next batch or test starts.
    const failure = (await Promise.allSettled(cases.map(runCase))).find((r) => r.status === 'rejected')
    if (failure) throw failure.reason
  })
  // No shrinking: the failing request is in the message already, and shrinking whole batches takes minutes.
  const out = await fc.check(property, { numRuns, endOnFailure: true })
  if (out.failed) {
    const err = out.errorInstance
    throw new Error(`fast-check seed ${out.seed}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

describe('fuzzing the public API', () => {
  let before: StorageSnapshot
  let generationsBefore: number

  beforeAll(async () => {
    await awaitSameUtcDay()
    await exhaustDailyQuota(`ip:${FUZZ_IP}`, tierLimits().free.daily)
    before = await snapshotStorage()
    generationsBefore = await backendGenerations()
  }, 200_000)

  it('bodies: wrong types, hostile unicode, invalid and deeply nested JSON, content types, oversize', async () => {
    await fuzz(bodyCase, RUNS.bodies)
  })

  it('headers: Authorization garbage, Content-Type, Accept, request ids, huge and spoofed headers', async () => {
    await fuzz(headerCase, RUNS.headers)
  })

  it('paths: unknown routes, traversal in image keys, bad job ids', async () => {
    await fuzz(pathCase, RUNS.paths)
  })

  it('methods: every method on every route', async () => {
    await fuzz(methodCase, RUNS.methods)
  })

  it('wrote nothing and generated nothing, over at least 10,000 requests', async () => {
    const after = await snapshotStorage()
    expect(after.images).toEqual([])
    expect(after).toEqual(before)
    expect(await backendGenerations()).toBe(generationsBefore)
    expect(sentCount).toBeGreaterThanOrEqual(10_000)
  })
})
