// Hostile input images, correctly signed, against a real backend serving a tiny Stable Cascade (every image graph):
// truncated files, wrong magic, a 30000×30000 header, GIF, animated WebP and PNG, over-size files, a well-formed PNG
// whose data does not decode, random bytes, masks of another size or that mark nothing, and bodies whose parts do
// not match the job. Each is a 400 naming its field (the decoder's refusals also list the undecodable hashes);
// never a 5xx, the process stays up, and nothing is queued or generated.
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeBackendBody, type InputField, type Job } from '../../../shared/src/index.ts'
import { type InputImage, inputImages } from '../../support/input-images.ts'
import { makeTinyModel, stopAll, type TinyModel } from '../../support/processes.ts'
import { type Backend, backend, expectProblem, sample, scrape, signedPost, tinyJob } from './harness.ts'

const PORT = 18920
let b: Backend
let sc: TinyModel
// Made before the arbitraries below, which draw from them.
const images: Record<string, InputImage> = await inputImages()
let sent = 0

beforeAll(async () => {
  sc = makeTinyModel(5, 'stable-cascade')
  b = await backend(PORT, { modelDirs: [sc.dir] })
})
afterAll(async () => {
  await stopAll()
  console.log(`fuzz-images: ${sent} hostile image requests sent`)
})

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const hostileNames = () => Object.keys(images).filter((n) => images[n]?.verdict !== 'ok')
const goodNames = () => Object.keys(images).filter((n) => images[n]?.verdict === 'ok' && n !== 'otherSize')

/** A case: which input goes in each field (a fixture's name, or random bytes), and how the body carries them. */
interface Plan {
  mode: 'variation' | 'img2img' | 'inpainting' | 'outpainting' | 'canny'
  inputs: Partial<Record<InputField, string | Uint8Array>>
  parts: 'match' | 'missing' | 'extra' | 'swapped'
  accept: string
}

const bytesOf = (v: string | Uint8Array) => (typeof v === 'string' ? (images[v] as InputImage).bytes : v)
const hostile = (v: string | Uint8Array) => typeof v !== 'string' || images[v]?.verdict !== 'ok'

const input = () =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...goodNames()) },
    { weight: 3, arbitrary: fc.constantFrom(...hostileNames()) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 300 }) },
  )

const plan: fc.Arbitrary<Plan> = fc
  .record({
    mode: fc.constantFrom('variation', 'img2img', 'inpainting', 'outpainting', 'canny'),
    a: input(),
    b: input(),
    parts: fc.constantFrom('match', 'match', 'match', 'missing', 'extra', 'swapped'),
    accept: fc.constantFrom('image/*', 'text/event-stream'),
  })
  .map(({ mode, a, b: second, parts, accept }): Plan => {
    const inputs: Plan['inputs'] =
      mode === 'canny'
        ? { 'control.image': a }
        : mode === 'inpainting'
          ? { image: a, mask: second }
          : { image: a }
    // Every case must be refused: a case with only good inputs gets a hostile one in its first field.
    if (!Object.values(inputs).some(hostile)) {
      const field = Object.keys(inputs)[0] as InputField
      inputs[field] = 'truncatedPng'
    }
    return { mode, inputs, parts, accept }
  })

async function jobOf(p: Plan): Promise<Job & { key: string }> {
  const h = (f: InputField) => {
    const v = p.inputs[f]
    return v === undefined ? undefined : sha(bytesOf(v))
  }
  const fields: Partial<Job> =
    p.mode === 'canny'
      ? { control: { type: 'canny', image: h('control.image') as string, strength: 1, preprocessed: false } }
      : p.mode === 'variation'
        ? { image: h('image') }
        : p.mode === 'img2img'
          ? { image: h('image'), strength: 0.5 }
          : p.mode === 'inpainting'
            ? { image: h('image'), mask: h('mask'), strength: 1, composite: true }
            : {
                image: h('image'),
                placement: { x: 0, y: 0, width: 256, height: 256 },
                strength: 1,
                composite: true,
              }
  return tinyJob({ model: 'stable-cascade', model_version: sc.version, ...fields })
}

/** A signed body that carries the parts `carried` names but says it is `job` (the job part swapped after encoding). */
function forged(job: Job & { key: string }, carried: Job & { key: string }, parts: Map<string, Uint8Array>) {
  const { body, contentType } = encodeBackendBody(carried, parts)
  const text = Buffer.from(body).toString('latin1').replace(JSON.stringify(carried), JSON.stringify(job))
  return { body: new Uint8Array(Buffer.from(text, 'latin1')), contentType }
}

async function attack(p: Plan): Promise<void> {
  const job = await jobOf(p)
  const parts = new Map(Object.values(p.inputs).map((v) => [sha(bytesOf(v)), bytesOf(v)] as const))
  const first = [...parts.keys()][0] as string
  const extra = Uint8Array.of(1, 2, 3)
  const withMask = (j: Job) =>
    tinyJob({ ...j, key: undefined, mask: sha(extra), strength: 1 } as Partial<Job>)
  let body: Uint8Array
  let contentType: string
  if (p.parts === 'missing') ({ body, contentType } = forged(await withMask(job), job, parts))
  else if (p.parts === 'extra')
    ({ body, contentType } = forged(job, await withMask(job), new Map([...parts, [sha(extra), extra]])))
  else {
    if (p.parts === 'swapped') parts.set(first, Uint8Array.of(9, 9, 9))
    ;({ body, contentType } = encodeBackendBody(job, parts))
  }
  sent++
  const res = await signedPost(b.url, body, { contentType, accept: p.accept })
  const raw = (await res.clone().json()) as { refused_inputs?: string[] }
  const problem = await expectProblem(res, { status: 400, code: 'invalid_request' }, body)
  const paths = problem.errors?.map((e) => e.path) ?? []
  // A part that does not hash to its name (swapped) is refused as the body's; the others by field.
  if (p.parts === 'swapped') expect(problem.detail).toMatch(/does not match its sha256/)
  else if (p.parts !== 'match') expect(paths).toEqual(['inputs'])
  else {
    const bad = (Object.entries(p.inputs) as [InputField, string | Uint8Array][]).filter(([, v]) =>
      hostile(v),
    )
    expect(paths.sort()).toEqual(bad.map(([f]) => f).sort())
    const refused = raw.refused_inputs ?? []
    for (const [, v] of bad) expect(refused).toContain(sha(bytesOf(v)))
  }
}

describe('POST /v1/generate with hostile input images (tiny Stable Cascade)', () => {
  it('refuses every hostile image and mismatched part (400 naming the field), generating nothing', async () => {
    await fc.assert(fc.asyncProperty(plan, attack), { numRuns: 150 })
    // Each listed kind at least once, in each field.
    for (const name of hostileNames())
      for (const mode of ['variation', 'canny'] as const)
        await attack({
          mode,
          inputs: mode === 'canny' ? { 'control.image': name } : { image: name },
          parts: 'match',
          accept: 'image/*',
        })
    expect(b.proc.alive()).toBe(true)
    const m = await scrape(b.url)
    const model = '{model="stable-cascade"}'
    expect(sample(m, `cascade_images_generated_total${model}`)).toBe(0)
    expect(sample(m, `cascade_batch_size_count${model}`)).toBe(0)
    expect(sample(m, 'cascade_errors_total{code="internal"}')).toBe(0)
    for (const [series, v] of m)
      if (series.startsWith('cascade_requests_total') && !/status="400"/.test(series))
        expect({ series, v }).toEqual({ series, v: 0 })
  })

  it('refuses masks it cannot use: another size, no alpha for a mask-less edit, marking nothing', async () => {
    const photo = (images.photo as InputImage).bytes
    for (const [maskName, message] of [
      ['otherSize', /must be the size of the image/],
      ['photo', /no alpha channel/],
      ['blackMask', /marks no pixel/],
    ] as const) {
      const mask = (images[maskName] as InputImage).bytes
      const job = await tinyJob({
        model: 'stable-cascade',
        model_version: sc.version,
        image: sha(photo),
        mask: sha(mask),
        strength: 1,
        composite: true,
      })
      const { body, contentType } = encodeBackendBody(
        job,
        new Map([
          [sha(photo), photo],
          [sha(mask), mask],
        ]),
      )
      sent++
      const p = await expectProblem(await signedPost(b.url, body, { contentType }), { status: 400 }, body)
      expect(p.errors).toEqual([{ path: 'mask', message: expect.stringMatching(message) }])
    }
  })
})
