import { describe, expect, it } from 'vitest'
import { expectCommonHeaders, expectProblem, generate, get, post } from './helpers.ts'

const bad: [string, Record<string, unknown>][] = [
  ['prompt', { prompt: '' }],
  ['prompt', { prompt: 'x'.repeat(2001) }],
  ['prompt', { prompt: 5 }],
  ['negative_prompt', { prompt: 'x', negative_prompt: 'y'.repeat(2001) }],
  ['model', { prompt: 'x', model: 'dall-e-3' }],
  ['n', { prompt: 'x', n: 0 }],
  ['n', { prompt: 'x', n: 5 }],
  ['n', { prompt: 'x', n: 1.5 }],
  ['size', { prompt: 'x', size: '1000x1000' }],
  ['size', { prompt: 'x', size: '256x256' }],
  ['size', { prompt: 'x', size: '1664x1024' }],
  ['size', { prompt: 'x', size: 'big' }],
  ['seed', { prompt: 'x', seed: -1 }],
  ['seed', { prompt: 'x', seed: 4294967296 }],
  ['prior_steps', { prompt: 'x', prior_steps: 61 }],
  ['prior_steps', { prompt: 'x', prior_steps: 0 }],
  ['prior_guidance', { prompt: 'x', prior_guidance: 20.5 }],
  ['decoder_steps', { prompt: 'x', decoder_steps: 31 }],
  ['decoder_guidance', { prompt: 'x', decoder_guidance: -0.1 }],
  ['output_format', { prompt: 'x', output_format: 'gif' }],
  ['response_format', { prompt: 'x', response_format: 'file' }],
  ['quality', { prompt: 'x', quality: 'hd' }],
]

describe('validation', () => {
  for (const [field, body] of bad) {
    it(`names ${field} for ${JSON.stringify(body).slice(0, 60)}`, async () => {
      const p = await expectProblem(await generate(body as never), 400, 'invalid_request')
      expect(p.errors?.map((e) => e.path)).toEqual([field])
    })
  }
  it('names every bad field at once, unknown fields included', async () => {
    const p = await expectProblem(
      await generate({ prompt: '', n: 9, sizee: '1x1', stpes: 3 } as never),
      400,
      'invalid_request',
    )
    expect(p.errors?.map((e) => e.path).sort()).toEqual(['n', 'prompt', 'sizee', 'stpes'])
  })
  it('rejects malformed JSON and oversize bodies as problems', async () => {
    await expectProblem(await post('/v1/images/generations', '{"prompt":'), 400, 'invalid_request')
    await expectProblem(await post('/v1/jobs', { prompt: 'x'.repeat(70_000) }), 413, 'payload_too_large')
  })
})

describe('meta endpoints', () => {
  it('generates an OpenAPI 3.1 document listing the routes', async () => {
    const res = await get('/openapi.json')
    const doc = (await res.json()) as {
      openapi: string
      paths: Record<string, unknown>
      components: { schemas: object }
    }
    expect(doc.openapi).toBe('3.1.0')
    for (const p of [
      '/v1/images/generations',
      '/v1/jobs',
      '/v1/jobs/{id}',
      '/v1/jobs/{id}/events',
      '/v1/jobs/{id}/cancel',
      '/v1/images/{file}',
      '/v1/images/edits',
      '/v1/images/variations',
      '/v1/models',
    ])
      expect(Object.keys(doc.paths)).toContain(p)
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'GenerationRequest',
        'Problem',
        'JobStatus',
        'ImageEditRequest',
        'ImageVariationRequest',
      ]),
    )
  })
  it('lists the models with defaults, limits and licence', async () => {
    const j = (await (await get('/v1/models')).json()) as {
      data: {
        id: string
        default: boolean
        defaults: { prior_steps: number }
        license: { commercial_use: boolean }
      }[]
    }
    expect(j.data.map((m) => m.id)).toEqual(['wuerstchen-v2', 'stable-cascade', 'stable-cascade-lite'])
    expect(j.data[0]).toMatchObject({
      default: true,
      defaults: { prior_steps: 29 },
      license: { commercial_use: true },
      demo: false, // DEMO_MODELS is empty: no random-weight demo model
    })
    expect(j.data[1]).toMatchObject({ defaults: { prior_steps: 20 }, license: { commercial_use: false } })
  })
  it('serves healthz, docs and the playground', async () => {
    const h = await get('/healthz')
    expect(await h.json()).toEqual({ ok: true })
    expectCommonHeaders(h)
    expect(await (await get('/docs')).text()).toMatch(/swagger/i)
    const page = await (await get('/')).text()
    expect(page).toMatch(/EventSource/)
    expect(page).toMatch(/\/v1\/jobs/)
  })
  it('answers unknown routes with a problem, and keeps a sane client request id', async () => {
    const res = await get('/nope', { 'X-Request-Id': 'client-id-1' })
    const p = await expectProblem(res, 404, 'not_found')
    expect(p.request_id).toBe('client-id-1')
    // The benchmark's floor routes are off unless BENCH_ROUTES=1.
    expect((await get('/bench/bare')).status).toBe(404)
    expect((await post('/bench/bare', { prompt: 'x' })).status).toBe(404)
  })
})
