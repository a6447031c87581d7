// Image inputs at the edge (stand-in backend): each mode as a field of the JSON request and through OpenAI's
// multipart endpoints; inputs checked from their header before anything is charged or stored, hashed into the
// request key, stored once in R2 `inputs/`, sent in the signed multipart body; the backend's refusal of an input
// passed on as the same 400 (and its stored copy dropped); previews relayed on the jobs API; modes per model.
import { env, SELF } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import {
  GenerationRequest,
  type Job,
  type Problem,
  resolveRequest,
  sha256Hex,
  toBackendJob,
  toHex,
} from '../../shared/src/index.ts'
import { TEST_CAPABILITIES } from '../edge-backend/capabilities.ts'
import { BASE, backendCalls, expectProblem, freshIp, generate, get, post, readSse } from './helpers.ts'

const images = inject('inputImages')
const b64 = (name: string) => (images[name] as { b64: string }).b64
const dataUrl = (name: string, type = 'image/png') => `data:${type};base64,${b64(name)}`
const bytes = (name: string) => Uint8Array.from(atob(b64(name)), (c) => c.charCodeAt(0))
const sha = async (name: string) => toHex(await crypto.subtle.digest('SHA-256', bytes(name)))
const SC = 'stable-cascade' as const

async function storedInputs(): Promise<string[]> {
  return (await env.IMAGES.list({ prefix: 'inputs/' })).objects.map((o) => o.key.slice('inputs/'.length))
}
async function storedImages(): Promise<number> {
  return (await env.IMAGES.list()).objects.filter((o) => !o.key.startsWith('inputs/')).length
}

function form(fields: Record<string, string | Uint8Array>): FormData {
  const f = new FormData()
  for (const [k, v] of Object.entries(fields))
    f.append(k, typeof v === 'string' ? v : new File([v], `${k}.png`, { type: 'image/png' }))
  return f
}
const postForm = (path: string, fields: Record<string, string | Uint8Array>) =>
  SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'CF-Connecting-IP': freshIp() },
    body: form(fields),
  })

describe('image modes as request fields', () => {
  it('variation, img2img, inpainting, outpainting and canny each reach the backend with their inputs, once stored', async () => {
    const photo = await sha('photo')
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['variation', { image: dataUrl('photo') }, { image: photo }],
      ['img2img', { image: b64('photo'), strength: 0.6 }, { image: photo, strength: 0.6 }],
      [
        'inpainting',
        { image: dataUrl('photo'), mask: dataUrl('mask') },
        { image: photo, mask: await sha('mask'), strength: 1, composite: true },
      ],
      [
        'outpainting',
        { image: dataUrl('photo'), placement: { x: 0, y: 0, width: 256, height: 256 }, composite: false },
        { image: photo, placement: { x: 0, y: 0, width: 256, height: 256 }, strength: 1, composite: false },
      ],
      [
        'canny',
        { control: { type: 'canny', image: dataUrl('edges'), preprocessed: true } },
        { control: { type: 'canny', image: await sha('edges'), strength: 1, preprocessed: true } },
      ],
    ]
    for (const [mode, fields, job] of cases) {
      const prompt = `image mode ${mode}`
      const body = { prompt, model: SC, size: '512x512', seed: 1, ...fields }
      const res = await generate(body)
      expect(res.status, `${mode}: ${await res.clone().text()}`).toBe(200)
      expect(res.headers.get('X-Cache')).toBe('MISS')
      const call = await backendCalls(prompt)
      expect(call?.lastImageFields, mode).toMatchObject(job)
      const named = [job.image, job.mask, (job.control as { image?: string } | undefined)?.image].filter(
        Boolean,
      )
      expect(call?.lastInputs.sort(), mode).toEqual([...new Set(named)].sort())
      for (const h of named) expect(await storedInputs()).toContain(h)
      // The same request again is a cache hit: no second backend call.
      const again = await generate(body)
      expect(again.headers.get('X-Cache')).toBe('HIT')
      expect((await backendCalls(prompt))?.count).toBe(1)
    }
    // photo was used by four modes and stored once.
    expect((await storedInputs()).filter((h) => h === photo)).toHaveLength(1)
  })

  it('the input is part of the request key: another image is another generation', async () => {
    const a = await generate({
      prompt: 'keyed by input',
      model: SC,
      size: '512x512',
      seed: 3,
      image: b64('photo'),
    })
    const b = await generate({
      prompt: 'keyed by input',
      model: SC,
      size: '512x512',
      seed: 3,
      image: b64('jpeg'),
    })
    const urls = await Promise.all(
      [a, b].map(async (r) => ((await r.json()) as { data: { url: string }[] }).data[0]?.url),
    )
    expect(urls[0]).not.toBe(urls[1])
    expect((await backendCalls('keyed by input'))?.count).toBe(2)
  })

  it('prompt may be left out with an image (a variation), not without', async () => {
    expect((await generate({ model: SC, size: '512x512', image: b64('photo') })).status).toBe(200)
    const p = await expectProblem(await generate({ model: SC, size: '512x512' }), 400, 'invalid_request')
    expect(p.errors?.map((e) => e.path)).toEqual(['prompt'])
  })
})

describe('bad inputs: 400 naming the field, nothing charged, queued or stored', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['not base64', { image: 'not base64 at all!' }, 'image'],
    ['wrong magic', { image: b64('wrongMagic') }, 'image'],
    ['a GIF', { image: b64('gif') }, 'image'],
    ['truncated PNG', { image: b64('truncatedPng') }, 'image'],
    ['truncated JPEG', { image: b64('truncatedJpeg') }, 'image'],
    ['30000x30000 header', { image: b64('bomb') }, 'image'],
    ['below the minimum side', { image: b64('tiny') }, 'image'],
    ['animated WebP', { image: b64('animatedWebp') }, 'image'],
    ['animated PNG', { image: b64('animatedPng') }, 'image'],
    ['over 4 MiB', { image: b64('tooBig') }, 'image'],
    ['a hostile mask', { image: b64('photo'), mask: b64('truncatedPng') }, 'mask'],
    ['a hostile control image', { control: { type: 'canny', image: b64('bomb') } }, 'control.image'],
    ['mask of another size', { image: b64('photo'), mask: b64('otherSize') }, 'mask'],
    ['mask without image', { mask: b64('mask') }, 'mask'],
    ['strength without image', { strength: 0.5 }, 'strength'],
    ['strength 0', { image: b64('photo'), strength: 0 }, 'strength'],
    ['strength over 1', { image: b64('photo'), strength: 1.5 }, 'strength'],
    ['strength of no step', { image: b64('photo'), strength: 0.01 }, 'strength'],
    [
      'placement off the canvas',
      { image: b64('photo'), placement: { x: 400, y: 0, width: 200, height: 100 } },
      'placement',
    ],
    [
      'control with a mask',
      { image: b64('photo'), mask: b64('mask'), control: { type: 'canny', image: b64('edges') } },
      'control',
    ],
    ['composite without a mask', { image: b64('photo'), composite: false }, 'composite'],
    [
      'canny on a model without it',
      { model: 'stable-cascade-lite', control: { type: 'canny', image: b64('edges') } },
      'control',
    ],
    ['variation on Würstchen v2', { model: 'wuerstchen-v2', image: b64('photo') }, 'image'],
  ]
  for (const [what, fields, field] of cases)
    it(what, async () => {
      const prompt = `refused input: ${what}`
      const before = { inputs: await storedInputs(), images: await storedImages() }
      for (const path of ['/v1/images/generations', '/v1/jobs']) {
        const p = await expectProblem(
          await post(path, { prompt, model: SC, size: '512x512', ...fields }),
          400,
          'invalid_request',
        )
        expect(p.errors?.map((e) => e.path)).toContain(field)
      }
      expect(await backendCalls(prompt)).toBeNull()
      expect({ inputs: await storedInputs(), images: await storedImages() }).toEqual(before)
    })

  it('a canny ControlNet that does not fit (lite) is explained', async () => {
    const res = await generate({
      prompt: 'x',
      model: 'stable-cascade-lite',
      control: { type: 'canny', image: b64('edges') },
    })
    const p = await expectProblem(res, 400, 'invalid_request')
    expect(p.errors?.[0]?.message).toMatch(/fit.*Stage C big/)
  })

  it("the backend's refusal of an input is the client's 400, and the stored input is dropped", async () => {
    const prompt = 'backend refuses [refuse-input]'
    const corrupt = await sha('corrupt')
    const before = await storedImages()
    for (const path of ['/v1/images/generations', '/v1/jobs']) {
      const res = await post(path, { prompt, model: SC, size: '512x512', image: b64('corrupt') })
      let problem: Problem
      if (path === '/v1/jobs') {
        const { id } = (await res.json()) as { id: string }
        const events = await readSse(await get(`/v1/jobs/${id}/events`))
        expect(events.at(-1)?.[0]).toBe('failed')
        problem = events.at(-1)?.[1] as Problem
        expect(problem.status).toBe(400)
      } else problem = await expectProblem(res, 400, 'invalid_request')
      expect(problem.code).toBe('invalid_request')
      expect(problem.errors).toEqual([
        { path: 'image', message: 'could not be decoded as a PNG (corrupt data)' },
      ])
      expect(await storedInputs()).not.toContain(corrupt)
    }
    expect(await storedImages()).toBe(before)
  })
})

describe('an input deleted after a refusal', () => {
  it('a coordinator whose job names a deleted input answers the same 400, naming the field', async () => {
    const photo = await sha('photo')
    const r = await resolveRequest(
      GenerationRequest.parse({ prompt: 'gone input', model: SC, size: '512x512', seed: 9, image: 'x' }),
      JSON.parse(env.MODEL_VERSIONS),
      {
        inputs: { image: { sha256: `${photo.slice(0, 63)}0`, width: 96, height: 64 } },
        capabilities: TEST_CAPABILITIES,
      },
    )
    if (!r.ok) throw new Error(JSON.stringify(r.errors))
    const job = await toBackendJob(r.value.jobs[0] as Job)
    const outcome = await env.GENERATION.get(env.GENERATION.idFromName(job.key)).generate(job, 'test-waiter')
    expect(outcome).toMatchObject({
      ok: false,
      code: 'invalid_request',
      status: 400,
      errors: [{ path: 'image' }],
    })
    expect(await backendCalls('gone input')).toBeNull()
  })
})

describe("OpenAI's multipart endpoints", () => {
  it('POST /v1/images/edits: image + mask, or the image alone with its transparent pixels as the mask', async () => {
    const withMask = await postForm('/v1/images/edits', {
      image: bytes('photo'),
      mask: bytes('mask'),
      prompt: 'edit with mask',
      model: SC,
      size: '512x512',
      n: '2',
    })
    expect(withMask.status, await withMask.clone().text()).toBe(200)
    expect(((await withMask.json()) as { data: unknown[] }).data).toHaveLength(2)
    expect((await backendCalls('edit with mask'))?.lastImageFields).toMatchObject({
      image: await sha('photo'),
      mask: await sha('mask'),
    })
    const alone = await postForm('/v1/images/edits', {
      image: bytes('alpha'),
      prompt: 'edit alone',
      model: SC,
    })
    expect(alone.status).toBe(200)
    const fields = (await backendCalls('edit alone'))?.lastImageFields
    expect(fields?.mask).toBe(fields?.image)
    expect((await backendCalls('edit alone'))?.lastInputs).toHaveLength(1)
  })

  it('POST /v1/images/variations: b64_json', async () => {
    const res = await postForm('/v1/images/variations', {
      image: bytes('photo'),
      model: SC,
      size: '512x512',
      response_format: 'b64_json',
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { b64_json: string }[] }
    expect(body.data[0]?.b64_json.length).toBeGreaterThan(100)
  })

  it('refuses hostile files, unknown fields, a missing image, naming each', async () => {
    for (const [fields, path] of [
      [{ image: bytes('bomb'), prompt: 'x', model: SC }, 'image'],
      [{ image: bytes('photo'), mask: bytes('otherSize'), prompt: 'x', model: SC }, 'mask'],
      [{ image: bytes('photo'), prompt: 'x', model: SC, quality: 'hd' }, 'quality'],
      [{ prompt: 'x', model: SC }, 'image'],
      [{ image: bytes('photo'), prompt: 'x', model: SC, n: 'many' }, 'n'],
    ] as const) {
      const p = await expectProblem(await postForm('/v1/images/edits', fields), 400, 'invalid_request')
      expect(p.errors?.map((e) => e.path)).toContain(path)
    }
    const v = await expectProblem(
      await postForm('/v1/images/variations', { image: bytes('photo'), model: 'wuerstchen-v2' }),
      400,
      'invalid_request',
    )
    expect(v.errors?.map((e) => e.path)).toEqual(['image'])
  })
})

describe('body limits', () => {
  it('a JSON body may carry images beyond 64 KiB, its other fields not', async () => {
    expect(
      (await generate({ prompt: 'big image ok', model: SC, size: '512x512', image: b64('jpeg') })).status,
    ).toBe(200)
    await expectProblem(
      await post('/v1/jobs', { prompt: 'x', negative_prompt: 'y'.repeat(70_000) }),
      413,
      'payload_too_large',
    )
  })
})

describe('previews and modes', () => {
  it('a job relays the backend preview events', async () => {
    const res = await post('/v1/jobs', { prompt: 'with previews [preview]', model: SC, size: '512x512' })
    const { id } = (await res.json()) as { id: string }
    const events = await readSse(await get(`/v1/jobs/${id}/events`))
    const previews = events
      .filter(([e]) => e === 'preview')
      .map(([, d]) => d as { stage: string; step: number; b64: string })
    expect(previews.map((p) => `${p.stage}${p.step}`)).toEqual(['c1', 'c2', 'c3'])
    expect(previews[0]?.b64.length).toBeGreaterThan(10)
    expect(events.at(-1)?.[0]).toBe('succeeded')
  })

  it('GET /v1/models lists each model modes and previews', async () => {
    const { data } = (await (await get('/v1/models')).json()) as {
      data: { id: string; modes: string[]; previews: boolean }[]
    }
    const by = Object.fromEntries(data.map((m) => [m.id, m]))
    expect(by['stable-cascade']?.modes).toEqual([
      'text',
      'variation',
      'img2img',
      'inpainting',
      'outpainting',
      'canny',
    ])
    expect(by['stable-cascade-lite']?.modes).toEqual(['text', 'variation', 'img2img'])
    expect(by['wuerstchen-v2']).toMatchObject({ modes: ['text'], previews: false })
  })

  it('a text request keeps the key it had before image inputs existed', async () => {
    // The job of a text request has no image fields, so its canonical JSON (and key) is unchanged.
    const res = await generate({ prompt: 'unchanged key', seed: 5 })
    const url = ((await res.json()) as { data: { url: string }[] }).data[0]?.url ?? ''
    const job = {
      v: 1,
      model: 'wuerstchen-v2',
      model_version: JSON.parse(env.MODEL_VERSIONS)['wuerstchen-v2'],
      prompt: 'unchanged key',
      negative_prompt: '',
      width: 1024,
      height: 1024,
      seed: 5,
      prior_steps: 29,
      prior_guidance: 4,
      decoder_steps: 12,
      decoder_guidance: 0,
      output_format: 'png',
    }
    const keys = Object.keys(job).sort()
    const canonical = `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(job[k as keyof typeof job])}`).join(',')}}`
    expect(url).toContain(await sha256Hex(canonical))
  })
})
