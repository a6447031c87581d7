// Hostile bodies, correctly signed, against a real backend's POST /v1/generate: every answer must be the status
// the contract predicts for that body (400 / 413, and 503 only for a model or weights version this backend does
// not serve), as a valid problem+json with a stable code and nothing of the server's insides; the process must
// stay up and never generate anything. The prediction reads the contract (shared's BackendJob schema and request
// key, the model limits api.md states), not the backend's code.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BackendJob, MODELS, type Problem, signRequest, verifyJobKey } from '../../../shared/src/index.ts'
import { stopAll } from '../../support/processes.ts'
import {
  type Backend,
  backend,
  expectProblem,
  MODEL_LABEL,
  rssKiB,
  SECRET,
  sample,
  scrape,
  signedPost,
  tinyJob,
  tinyModel,
} from './harness.ts'
import {
  absurdNumber,
  accept,
  applyMutations,
  contentType,
  type Entries,
  hex64,
  jobEntries,
  type KeyMode,
  keyOf,
  type Mutation,
  mutatedJob,
  nastyString,
  text,
  useTemplate,
} from './hostile-bodies.ts'

const PORT = 18900
/** The backend's body limit (gpu-backend/src/service/app.ts: a job is well under 10 KiB). */
const MAX_BODY = 64 * 1024

let b: Backend
let sent = 0
beforeAll(async () => {
  b = await backend(PORT)
  useTemplate(await tinyJob())
})
afterAll(async () => {
  await stopAll()
  console.log(`fuzz-backend: ${sent} hostile requests sent`)
})

const encoder = new TextEncoder()

type Prediction = { status: 400 | 413 | 503; code: Problem['code']; paths?: string[] } | 'accepted'

/** What the contract says the backend answers to these bytes. */
async function predict(body: Uint8Array): Promise<Prediction> {
  if (body.length > MAX_BODY) return { status: 413, code: 'payload_too_large' }
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(body))
  } catch {
    return { status: 400, code: 'invalid_request' }
  }
  const parsed = BackendJob.safeParse(raw)
  if (!parsed.success) return { status: 400, code: 'invalid_request' }
  const job = parsed.data
  if (!(await verifyJobKey(job))) return { status: 400, code: 'invalid_request', paths: ['key'] }
  if (job.model !== 'wuerstchen-v2' || job.model_version !== tinyModel().version)
    return { status: 503, code: 'backend_unavailable' }
  // api.md: sizes multiples of 128 in 512..1536, prior_steps ≤ 60, decoder_steps ≤ 30, guidance ≤ 20 / 10.
  const l = MODELS[job.model].limits
  const size = (v: number) => v < l.min_size || v > l.max_size || v % l.size_multiple !== 0
  const paths = [
    ...(size(job.width) ? ['width'] : []),
    ...(size(job.height) ? ['height'] : []),
    ...(job.prior_steps > l.max_prior_steps ? ['prior_steps'] : []),
    ...(job.decoder_steps > l.max_decoder_steps ? ['decoder_steps'] : []),
    ...(job.prior_guidance > 20 ? ['prior_guidance'] : []),
    ...(job.decoder_guidance > 10 ? ['decoder_guidance'] : []),
  ]
  return paths.length ? { status: 400, code: 'invalid_request', paths } : 'accepted'
}

interface Send {
  contentType?: string | null
  accept?: string
}

/** Sends one hostile body (signed) and checks the answer against the prediction. */
async function attack(body: string | Uint8Array, o: Send = {}): Promise<void> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  const want = await predict(bytes)
  // A body the contract accepts would be generated: the generators below never mean to send one.
  expect(want, 'the fuzzer built a valid job').not.toBe('accepted')
  if (want === 'accepted') return
  sent++
  const res = await signedPost(b.url, bytes, {
    ...(o.contentType !== undefined ? { contentType: o.contentType } : {}),
    ...(o.accept ? { accept: o.accept } : {}),
  })
  const p = await expectProblem(res, want, bytes)
  if (want.status === 503) expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0)
  if (want.paths) expect(p.errors?.map((e) => e.path).sort()).toEqual([...want.paths].sort())
  else if (want.status === 400 && !/^the body is (not|neither) JSON/.test(p.detail))
    expect(p.errors?.length).toBeGreaterThan(0)
}

/** The process is up and has not run, queued or generated anything, nor failed with a 500. */
async function expectUntouched(): Promise<void> {
  expect(b.proc.alive()).toBe(true)
  expect((await fetch(`${b.url}/healthz`)).status).toBe(200)
  const m = await scrape(b.url)
  expect(sample(m, `cascade_images_generated_total${MODEL_LABEL}`)).toBe(0)
  expect(sample(m, `cascade_batch_size_count${MODEL_LABEL}`)).toBe(0)
  expect(sample(m, `cascade_queue_depth${MODEL_LABEL}`)).toBe(0)
  expect(sample(m, `cascade_jobs_running${MODEL_LABEL}`)).toBe(0)
  expect(sample(m, 'cascade_errors_total{code="internal"}')).toBe(0)
  for (const [series, v] of m)
    if (series.startsWith('cascade_requests_total') && !/status="(400|401|413|503)"/.test(series))
      expect({ series, v }).toEqual({ series, v: 0 })
}

/**
 * The body text: the entries plus a key chosen by `mode`. A body that would still be a valid job gets an
 * out-of-range width (key recomputed), so each case is refused and the key check still sees arbitrary content.
 */
async function withKey(entries: Entries, mode: KeyMode, random: string): Promise<string> {
  const hasKey = entries.some(([k]) => k === 'key')
  const keyed = async (e: Entries): Promise<Entries> => {
    if (hasKey) return e
    const key =
      mode === 'matching'
        ? await keyOf(e)
        : mode === 'stale'
          ? await keyOf(applyMutations(e, [{ kind: 'set', field: 'seed', value: 7 }]))
          : mode === 'random'
            ? random
            : random.toUpperCase().slice(1)
    return [...e, ['key', key]]
  }
  let body = text(await keyed(entries))
  if ((await predict(encoder.encode(body))) === 'accepted')
    body = text(await keyed(applyMutations(entries, [{ kind: 'set', field: 'width', value: 4096 }])))
  return body
}

const runs = (numRuns: number) => ({ numRuns })

describe('POST /v1/generate with a valid signature and a hostile body', () => {
  it('refuses arbitrary JSON documents (400)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), (v) => attack(JSON.stringify(v))),
      runs(500),
    )
    await expectUntouched()
  })

  it('refuses job-shaped bodies with wrong types, missing and extra fields (400, or 503 for weights it lacks)', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedJob, async ({ entries, mutations, mode, random }) =>
        attack(await withKey(applyMutations(entries, mutations), mode, random)),
      ),
      runs(1500),
    )
    await expectUntouched()
  })

  it('refuses absurd sizes, steps, guidance, seeds and n even with a matching key (400 naming the field)', async () => {
    const numeric = fc.constantFrom(
      'width',
      'height',
      'prior_steps',
      'decoder_steps',
      'prior_guidance',
      'decoder_guidance',
      'seed',
    )
    const plan = fc.record({
      entries: jobEntries,
      sets: fc.array(fc.tuple(numeric, absurdNumber), { minLength: 1, maxLength: 3 }),
      n: fc.option(absurdNumber),
    })
    await fc.assert(
      fc.asyncProperty(plan, async ({ entries, sets, n }) => {
        const muts: Mutation[] = sets.map(([field, value]) => ({ kind: 'set', field, value }))
        if (n !== null) muts.push({ kind: 'extra', field: 'n', value: n })
        await attack(await withKey(applyMutations(entries, muts), 'matching', ''))
      }),
      runs(500),
    )
    await expectUntouched()
  })

  it('agrees with the edge on the key of any unicode prompt (400 for the width, never for the key)', async () => {
    const plan = fc.record({ entries: jobEntries, prompt: nastyString, negative: nastyString })
    await fc.assert(
      fc.asyncProperty(plan, async ({ entries, prompt, negative }) => {
        const e = applyMutations(entries, [
          { kind: 'set', field: 'prompt', value: prompt },
          { kind: 'set', field: 'negative_prompt', value: negative },
          { kind: 'set', field: 'width', value: 4096 },
        ])
        await attack(text([...e, ['key', await keyOf(e)]]))
      }),
      runs(500),
    )
    await expectUntouched()
  })

  it('refuses a key that does not match the job (400 on "key")', async () => {
    const plan = fc.record({ entries: jobEntries, other: fc.oneof(hex64, fc.nat().map(String)) })
    await fc.assert(
      fc.asyncProperty(plan, async ({ entries, other }) => {
        // Either random hex, or the real key of a job that differs in one seed.
        const key = /^[0-9a-f]{64}$/.test(other)
          ? other
          : await keyOf(applyMutations(entries, [{ kind: 'set', field: 'seed', value: Number(other) + 1 }]))
        const real = await keyOf(entries)
        await attack(
          text([...entries, ['key', key === real ? key.replace(/.$/, (c) => (c === '0' ? '1' : '0')) : key]]),
        )
      }),
      runs(300),
    )
    await expectUntouched()
  })

  it('refuses bytes that are not JSON, or not quite (400)', async () => {
    const job = JSON.stringify(await tinyJob({ width: 4096, seed: 1 }))
    const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth)
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc.string({ unit: 'binary', maxLength: 500 }).map((s) => encoder.encode(s)),
      fc.nat({ max: job.length - 1 }).map((n) => job.slice(0, n)),
      fc.string({ minLength: 1, maxLength: 20 }).map((junk) => job + junk),
      fc.constantFrom(
        '',
        'null',
        '[]',
        '"job"',
        '\uFEFF',
        `\uFEFF${job}`,
        job.replace('{', '{"width":512,'),
        job.replace('"width":4096', '"width":4096,"width":512'),
        job.replace('"seed":1', '"seed":1e400'),
        job.replace('"seed":1', '"seed":-0'),
        job.replace('"prompt":"a lighthouse at dusk"', '"prompt":"\\ud800"'),
        job.replace('}', ',}'),
        `${job}\u0000`,
        deep(10_000, '[', ']'),
        `${'{"a":'.repeat(6_000)}1${'}'.repeat(6_000)}`,
        `{"v":1,"prompt":${deep(20_000, '[', ']')}}`,
        job.replaceAll('"', "'"),
      ),
    )
    await fc.assert(
      fc.asyncProperty(bytes, (body) => attack(body)),
      runs(500),
    )
    await expectUntouched()
  })

  it('answers the same whatever the Content-Type and Accept headers say', async () => {
    await fc.assert(
      fc.asyncProperty(
        mutatedJob,
        contentType,
        accept,
        async ({ entries, mutations, mode, random }, ct, acc) =>
          attack(await withKey(applyMutations(entries, mutations), mode, random), {
            contentType: ct,
            accept: acc,
          }),
      ),
      runs(300),
    )
    await expectUntouched()
  })

  it('answers 503 + Retry-After to a model or weights version it does not serve (the documented 5xx)', async () => {
    const plan = fc.record({
      entries: jobEntries,
      model: fc.constantFrom('wuerstchen-v2', 'stable-cascade', 'stable-cascade-lite'),
      version: fc.oneof(fc.string({ minLength: 1, maxLength: 80 }), hex64),
    })
    await fc.assert(
      fc.asyncProperty(plan, async ({ entries, model, version }) => {
        const e = applyMutations(entries, [
          { kind: 'set', field: 'model', value: model },
          {
            kind: 'set',
            field: 'model_version',
            value: version === tinyModel().version ? `${version}-x` : version,
          },
        ])
        await attack(text([...e, ['key', await keyOf(e)]]))
      }),
      runs(200),
    )
    await expectUntouched()
  })

  it('refuses oversized bodies (413), declared or not', async () => {
    const job = await tinyJob()
    const size = fc.integer({ min: MAX_BODY + 1, max: 2 * 1024 * 1024 })
    await fc.assert(
      fc.asyncProperty(size, async (n) => {
        const body = JSON.stringify({ ...job, prompt: 'x'.repeat(n) })
        await attack(body)
      }),
      runs(40),
    )
    await expectUntouched()
  })

  it('stops reading an endless chunked body at the limit, without buffering it', async () => {
    const before = rssKiB(b.proc.pid)
    const CAP = 1024 * 1024 * 1024
    let streamed = 0
    const chunk = encoder.encode(`{"prompt":"${'x'.repeat(64 * 1024)}`)
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (streamed >= CAP) return c.close()
        streamed += chunk.length
        c.enqueue(chunk)
      },
    })
    // Well-formed, fresh signature headers (the MAC cannot be right): the backend reads until the limit. Without
    // them it answers 401 before reading a byte.
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'image/*',
      ...(await signRequest(SECRET, 'x')),
    }
    const init = { method: 'POST', body, headers, duplex: 'half' } as RequestInit
    const res = await fetch(`${b.url}/v1/generate`, init)
    sent++
    await expectProblem(res, { status: 413, code: 'payload_too_large' })
    // The answer came long before the client could send the gigabyte, and the process did not hold it.
    expect(streamed).toBeLessThan(CAP)
    expect(rssKiB(b.proc.pid) - before).toBeLessThan(128 * 1024)
    await expectUntouched()
  })
})
