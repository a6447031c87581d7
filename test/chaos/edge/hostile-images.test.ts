// Property-based fuzzing of the image inputs at the edge: JSON requests (base64 and data: URLs in `image`, `mask`,
// `control.image`) and OpenAI's multipart endpoints, with hostile images (truncated, wrong magic, GIF, a
// 30000×30000 header, animated WebP and PNG, too small, too big, random bytes, not base64), masks of another size,
// and the fields around them (strength, placement, composite, control) in and out of range. Every answer keeps
// support.ts's invariants (never a 5xx, problem+json, nothing internal); a request whose inputs the edge can
// refuse is a 400 naming each bad field, worked out with shared's checks. As in fuzz-api.test.ts the client's
// daily quota is used up first, so a valid request stops at 429 before anything is stored or generated: at the
// end, no object in R2 (no image, no input) and not one generation call at the stand-in.
import { env } from 'cloudflare:test'
import fc from 'fast-check'
import { describe, expect, inject, it } from 'vitest'
import {
  checkInputImage,
  type FieldError,
  GenerationRequest,
  ImageEditRequest,
  ImageVariationRequest,
  type InputField,
  type InputInfo,
  resolveRequest,
  toBase64,
  toHex,
} from '../../../shared/src/index.ts'
import { TEST_CAPABILITIES } from '../../edge-backend/capabilities.ts'
import {
  awaitSameUtcDay,
  backendGenerations,
  checkResponse,
  describeSent,
  exhaustDailyQuota,
  type Sent,
  send,
  snapshotStorage,
  tierLimits,
} from './support.ts'

const IP = '192.0.2.77'
const images = inject('inputImages')
const names = Object.keys(images)
const bytesOf = (name: string) => Uint8Array.from(atob(images[name]?.b64 ?? ''), (c) => c.charCodeAt(0))

/** An input as sent: a fixture (as base64 or a data: URL), random bytes, or a string that is not base64. */
type Given =
  | { kind: 'fixture'; name: string; dataUrl: boolean }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'junk'; text: string }

const given: fc.Arbitrary<Given> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('fixture' as const),
      name: fc.constantFrom(...names),
      dataUrl: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('junk' as const),
      text: fc.string({ minLength: 1, maxLength: 40 }),
    }),
  },
)

const bytesGiven = (g: Given): Uint8Array | undefined =>
  g.kind === 'fixture' ? bytesOf(g.name) : g.kind === 'random' ? g.bytes : undefined
const fixture64 = (name: string) => images[name]?.b64 ?? ''
const jsonValue = (g: Given): string =>
  g.kind === 'junk'
    ? `${g.text}!`
    : g.kind === 'random'
      ? toBase64(g.bytes)
      : g.dataUrl
        ? `data:image/png;base64,${fixture64(g.name)}`
        : fixture64(g.name)

interface Case {
  route: 'json' | 'edits' | 'variations'
  path?: '/v1/images/generations' | '/v1/jobs'
  inputs: Partial<Record<InputField, Given>>
  fields: Record<string, unknown>
}

const fields = fc.record(
  {
    model: fc.constantFrom('stable-cascade', 'stable-cascade-lite', 'wuerstchen-v2'),
    strength: fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0, 0.01, 0.5, 1)),
    placement: fc.record({
      x: fc.integer({ min: 0, max: 900 }),
      y: fc.integer({ min: 0, max: 900 }),
      width: fc.integer({ min: 16, max: 1100 }),
      height: fc.integer({ min: 16, max: 1100 }),
    }),
    composite: fc.boolean(),
    prompt: fc.constantFrom('a hostile input', ''),
  },
  { requiredKeys: ['model'] },
)

const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    route: fc.constant('json' as const),
    path: fc.constantFrom('/v1/images/generations' as const, '/v1/jobs' as const),
    inputs: fc.record({ image: given, mask: given, 'control.image': given }, { requiredKeys: [] }),
    fields,
  }),
  fc.record({
    route: fc.constantFrom('edits' as const, 'variations' as const),
    inputs: fc.record({ image: given, mask: given }, { requiredKeys: ['image'] }),
    fields: fc.record({ model: fc.constantFrom('stable-cascade', 'stable-cascade-lite') }),
  }),
)

/** The JSON body or form of a case. */
async function request(c: Case): Promise<Sent> {
  const headers: Record<string, string> = { 'CF-Connecting-IP': IP }
  if (c.route === 'json') {
    const body: Record<string, unknown> = { size: '1024x1024', ...c.fields }
    if (c.inputs.image) body.image = jsonValue(c.inputs.image)
    if (c.inputs.mask) body.mask = jsonValue(c.inputs.mask)
    if (c.inputs['control.image'])
      body.control = { type: 'canny', image: jsonValue(c.inputs['control.image']) }
    return {
      method: 'POST',
      path: c.path as string,
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }
  }
  const form = new FormData()
  for (const [k, v] of Object.entries(c.fields)) form.append(k, String(v))
  if (c.route === 'edits') form.append('prompt', 'a hostile edit')
  for (const f of ['image', 'mask'] as const) {
    const g = c.inputs[f]
    if (!g || (c.route === 'variations' && f === 'mask')) continue
    const b = bytesGiven(g) ?? new TextEncoder().encode(g.kind === 'junk' ? g.text : '')
    form.append(f, new File([b], `${f}.png`, { type: 'image/png' }))
  }
  const encoded = new Response(form)
  const bytes = new Uint8Array(await encoded.arrayBuffer())
  return {
    method: 'POST',
    path: `/v1/images/${c.route}`,
    headers: { ...headers, 'Content-Type': encoded.headers.get('Content-Type') as string },
    body: bytes,
  }
}

/** The fields as the route's schema sees them (inputs as placeholders the schema accepts). */
function schemaBody(c: Case, inputs: Partial<Record<InputField, Given>>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...c.fields }
  const file = new File([new Uint8Array(1)], 'x.png')
  if (c.route === 'json') {
    for (const f of ['image', 'mask'] as const) if (inputs[f]) body[f] = jsonValue(inputs[f] as Given)
    if (inputs['control.image']) body.control = { type: 'canny', image: jsonValue(inputs['control.image']) }
    return body
  }
  for (const [k, v] of Object.entries(body)) body[k] = String(v)
  body.image = file
  if (c.route === 'edits')
    Object.assign(body, { prompt: 'a hostile edit', ...(c.inputs.mask ? { mask: file } : {}) })
  return body
}

/**
 * What the edge answers, in its order: the route's schema (400), the inputs' headers (400 naming each), the
 * request's resolution (400 naming each field), else 429 (the quota is used up).
 */
async function expected(c: Case): Promise<{ status: number; fields?: string[] }> {
  const inputs = { ...c.inputs }
  if (c.route === 'variations') delete inputs.mask
  const schema =
    c.route === 'json' ? GenerationRequest : c.route === 'edits' ? ImageEditRequest : ImageVariationRequest
  if (!schema.safeParse(schemaBody(c, inputs)).success) return { status: 400 }
  if (c.route === 'edits' && !inputs.mask) inputs.mask = inputs.image
  const errors: FieldError[] = []
  const infos: Partial<Record<InputField, InputInfo>> = {}
  for (const [field, g] of Object.entries(inputs) as [InputField, Given][]) {
    const b = bytesGiven(g)
    // Junk is not base64 (JSON), or not an image (a form's file).
    const check = b ? checkInputImage(b) : { ok: false as const, message: '' }
    if (!check.ok) errors.push({ path: field, message: check.message })
    else
      infos[field] = {
        sha256: toHex(await crypto.subtle.digest('SHA-256', b as Uint8Array)),
        width: check.width,
        height: check.height,
      }
  }
  if (errors.length) return { status: 400, fields: errors.map((e) => e.path) }
  const body = { ...c.fields, ...(c.route === 'edits' ? { prompt: 'a hostile edit' } : {}) } as Record<
    string,
    unknown
  >
  for (const f of ['image', 'mask'] as const) if (inputs[f]) body[f] = 'x'
  if (inputs['control.image']) body.control = { type: 'canny', image: 'x' }
  const parsed = GenerationRequest.parse(body)
  const r = await resolveRequest(parsed, JSON.parse(env.MODEL_VERSIONS), {
    inputs: infos,
    capabilities: TEST_CAPABILITIES,
  })
  return r.ok ? { status: 429 } : { status: 400, fields: r.errors.map((e) => e.path) }
}

describe('hostile input images at the edge', () => {
  it('answers every case as predicted: 400 naming the bad inputs and fields, 429 otherwise; stores nothing', async () => {
    await awaitSameUtcDay()
    await exhaustDailyQuota(`ip:${IP}`, tierLimits().free.daily)
    const before = { storage: await snapshotStorage(), generations: await backendGenerations() }
    const answered = { 400: 0, 429: 0 }
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const sent = await request(c)
        const want = await expected(c)
        answered[want.status as 400 | 429]++
        const seen = await send(sent)
        const p = checkResponse(sent, seen)
        const what = `${describeSent(sent)}\n-> ${seen.text.slice(0, 400)}`
        expect(seen.res.status, what).toBe(want.status)
        if (want.status === 429) expect(p?.code, what).toBe('quota_exceeded')
        if (want.fields)
          expect(
            p?.errors?.map((e) => e.path),
            what,
          ).toEqual(expect.arrayContaining(want.fields))
      }),
      { numRuns: 400 },
    )
    // Both kinds of answer were exercised: refusals, and requests valid up to the quota.
    console.log(`hostile images: ${answered[400]} refused, ${answered[429]} valid (stopped by the quota)`)
    expect(Math.min(answered[400], answered[429])).toBeGreaterThan(20)
    expect({ storage: await snapshotStorage(), generations: await backendGenerations() }).toEqual(before)
  })
})
