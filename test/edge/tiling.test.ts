// Seamless tiling at the edge: GET /v1/models says which models tile (TILING_MODELS, from the backends' manifests);
// `tiling` on another model is a 400 naming the field that never reaches a backend; on a tiling model the backend
// gets the job's axes, and each mode is an image of its own in the cache while `false` is the same as leaving it out.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../edge/src/app.ts'
import { type GenerationRequestInput, ModelList } from '../../shared/src/index.ts'
import { BASE, backendCalls, expectProblem, freshIp, generate, get } from './helpers.ts'

const TILING_MODELS = 'wuerstchen-v2,stable-cascade-lite'

/** A request to the Worker with TILING_MODELS set (wrangler.toml's is empty). */
async function withTiling(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await createApp().request(
    `${BASE}${path}`,
    {
      ...init,
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp(), ...init.headers },
    },
    { ...env, TILING_MODELS },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return res
}

const generateTiled = (body: GenerationRequestInput) =>
  withTiling('/v1/images/generations', { method: 'POST', body: JSON.stringify(body) })

const urlOf = async (res: Response) => ((await res.json()) as { data: { url: string }[] }).data[0]?.url

describe('tiling', () => {
  it('GET /v1/models: `tiling` for the models TILING_MODELS names, false for the others and when unset', async () => {
    const data = ModelList.parse(await (await withTiling('/v1/models')).json()).data
    expect(Object.fromEntries(data.map((m) => [m.id, m.tiling]))).toEqual({
      'wuerstchen-v2': true,
      'stable-cascade': false,
      'stable-cascade-lite': true,
    })
    const unset = ModelList.parse(await (await get('/v1/models')).json()).data
    expect(unset.every((m) => m.tiling === false)).toBe(true)
  })

  it('is a 400 naming `tiling` for a model that cannot tile, and no backend is called', async () => {
    const prompt = 'tiling refused here'
    const json = (body: GenerationRequestInput) => ({ method: 'POST', body: JSON.stringify(body) })
    for (const res of [
      await generate({ prompt, tiling: true }), // wrangler.toml's TILING_MODELS: none
      await generateTiled({ prompt, model: 'stable-cascade', tiling: 'x' }),
      await withTiling('/v1/jobs', json({ prompt, model: 'stable-cascade', tiling: 'y' })),
    ]) {
      const p = await expectProblem(res, 400, 'invalid_request')
      expect(p.errors?.map((e) => e.path)).toEqual(['tiling'])
      expect(p.errors?.[0]?.message).toMatch(/no tile graphs/)
    }
    expect(await backendCalls(prompt)).toBeNull()
    const bad = await generate({ prompt, tiling: 'z' as never })
    expect((await expectProblem(bad, 400, 'invalid_request')).errors?.map((e) => e.path)).toEqual(['tiling'])
  })

  it('sends the axes to the backend; each mode is its own image, false the same as none', async () => {
    const prompt = 'tiling sent along'
    const plain = await generateTiled({ prompt, seed: 5 })
    expect(plain.headers.get('X-Cache')).toBe('MISS')
    expect((await backendCalls(prompt))?.lastTiling).toBeNull()
    const plainUrl = await urlOf(plain)
    const off = await generateTiled({ prompt, seed: 5, tiling: false })
    expect([off.headers.get('X-Cache'), await urlOf(off)]).toEqual(['HIT', plainUrl])
    const urls = new Set([plainUrl])
    for (const [tiling, sent] of [
      [true, 'xy'],
      ['x', 'x'],
      ['y', 'y'],
    ] as const) {
      const res = await generateTiled({ prompt, seed: 5, tiling })
      expect(res.status).toBe(200)
      expect(res.headers.get('X-Cache')).toBe('MISS')
      expect((await backendCalls(prompt))?.lastTiling).toBe(sent)
      urls.add(await urlOf(res))
    }
    expect(urls.size).toBe(4)
    expect((await backendCalls(prompt))?.count).toBe(4)
  })

  it('POST /v1/jobs takes it too', async () => {
    const prompt = 'tiling as a job'
    const res = await withTiling('/v1/jobs', {
      method: 'POST',
      body: JSON.stringify({ prompt, tiling: 'y' }),
    })
    expect(res.status).toBe(202)
    const { status_url } = (await res.json()) as { status_url: string }
    let status = ''
    for (let i = 0; i < 100 && status !== 'succeeded'; i++) {
      status = ((await (await withTiling(new URL(status_url).pathname)).json()) as { status: string }).status
      if (status !== 'succeeded') await new Promise((r) => setTimeout(r, 20))
    }
    expect(status).toBe('succeeded')
    expect((await backendCalls(prompt))?.lastTiling).toBe('y')
  })
})
