import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.ts'
import { requestKey, resolveRequest, toBackendJob, verifyJobKey } from './request-key.ts'
import type { Job } from './schemas/backend.ts'
import { GenerationRequest } from './schemas/generation.ts'

const versions = { 'wuerstchen-v2': 'v2w', 'stable-cascade': 'scw', 'stable-cascade-lite': 'sclw' }
async function keys(body: unknown): Promise<string[]> {
  const r = await resolveRequest(GenerationRequest.parse(body), versions)
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  return Promise.all(r.value.jobs.map(requestKey))
}

describe('canonicalJson', () => {
  it('sorts keys, drops whitespace, writes shortest numbers', () => {
    expect(canonicalJson({ b: 1.5, a: [1, 'x', null, true], c: { z: 0.1, y: 1e21, x: -0 } })).toBe(
      '{"a":[1,"x",null,true],"b":1.5,"c":{"x":0,"y":1e+21,"z":0.1}}',
    )
    expect(canonicalJson({ g: 4.0, h: 1.1 })).toBe('{"g":4,"h":1.1}')
  })
  it('rejects non-finite numbers', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow()
  })
})

describe('request key', () => {
  it('is 64 lowercase hex', async () => {
    expect((await keys({ prompt: 'a cat' }))[0]).toMatch(/^[0-9a-f]{64}$/)
  })
  it('is the same with and without spelled-out defaults', async () => {
    const spelled = {
      prompt: 'a cat',
      negative_prompt: '',
      model: 'wuerstchen-v2',
      n: 1,
      size: '1024x1024',
      prior_steps: 29,
      prior_guidance: 4,
      decoder_steps: 12,
      decoder_guidance: 0,
      output_format: 'png',
      response_format: 'b64_json',
    }
    expect(await keys(spelled)).toEqual(await keys({ prompt: 'a cat' }))
    const sca = { prompt: 'a cat', model: 'stable-cascade' }
    expect(
      await keys({ ...sca, prior_steps: 20, prior_guidance: 4, decoder_steps: 10, decoder_guidance: 1.1 }),
    ).toEqual(await keys(sca))
  })
  it('is the same for prompts differing only in case and whitespace', async () => {
    expect(await keys({ prompt: '  A   CAT ' })).toEqual(await keys({ prompt: 'a cat' }))
  })
  it('differs when anything generated differs', async () => {
    const base = (await keys({ prompt: 'a cat' }))[0]
    for (const change of [
      { prompt: 'a dog' },
      { prompt: 'a cat', seed: 1 },
      { prompt: 'a cat', size: '512x512' },
      { prompt: 'a cat', output_format: 'webp' },
      { prompt: 'a cat', negative_prompt: 'blurry' },
      { prompt: 'a cat', model: 'stable-cascade' },
      { prompt: 'a cat', prior_guidance: 4.5 },
    ]) {
      expect((await keys(change))[0]).not.toBe(base)
    }
  })
  it('derives the seed from the request, excluding n, and image i uses seed + i', async () => {
    const one = await resolveRequest(GenerationRequest.parse({ prompt: 'a cat' }), versions)
    const three = await resolveRequest(GenerationRequest.parse({ prompt: 'a cat', n: 3 }), versions)
    if (!one.ok || !three.ok) throw new Error('unresolvable')
    const s = one.value.jobs[0]?.seed as number
    expect(three.value.jobs.map((j) => j.seed)).toEqual([s, (s + 1) % 2 ** 32, (s + 2) % 2 ** 32])
    const explicit = await resolveRequest(
      GenerationRequest.parse({ prompt: 'a cat', seed: 4294967295, n: 2 }),
      versions,
    )
    expect(explicit.ok && explicit.value.jobs.map((j) => j.seed)).toEqual([4294967295, 0])
  })
  it('backend job carries a key the backend can verify', async () => {
    const r = await resolveRequest(GenerationRequest.parse({ prompt: 'a cat' }), versions)
    if (!r.ok) throw new Error('unresolvable')
    const job = await toBackendJob(r.value.jobs[0] as never)
    expect(await verifyJobKey(job)).toBe(true)
    expect(await verifyJobKey({ ...job, seed: job.seed + 1 })).toBe(false)
  })
  it('rejects a model that is not enabled', async () => {
    const r = await resolveRequest(GenerationRequest.parse({ prompt: 'x', model: 'stable-cascade' }), {
      'wuerstchen-v2': 'v',
    })
    expect(r.ok).toBe(false)
    expect(!r.ok && r.errors.map((e) => e.path)).toEqual(['model'])
  })
})

describe('tiling', () => {
  const tiles = new Set(['wuerstchen-v2'])
  async function resolved(body: Record<string, unknown>) {
    const r = await resolveRequest(GenerationRequest.parse({ prompt: 'a cat', seed: 1, ...body }), versions, {
      tilingModels: tiles,
    })
    if (!r.ok) throw new Error(JSON.stringify(r.errors))
    return r.value.jobs[0] as Job
  }
  it('resolves true to "xy", keeps "x" and "y", and leaves the field out for false or none', async () => {
    expect((await resolved({ tiling: true })).tiling).toBe('xy')
    expect((await resolved({ tiling: 'x' })).tiling).toBe('x')
    expect((await resolved({ tiling: 'y' })).tiling).toBe('y')
    expect('tiling' in (await resolved({ tiling: false }))).toBe(false)
    expect('tiling' in (await resolved({}))).toBe(false)
  })
  it('is part of the key: each mode its own, false the same as none', async () => {
    const key = async (body: Record<string, unknown>) => requestKey(await resolved(body))
    const none = await key({})
    expect(await key({ tiling: false })).toBe(none)
    const modes = await Promise.all([true, 'x', 'y'].map((tiling) => key({ tiling })))
    expect(new Set([none, ...modes]).size).toBe(4)
    // Without tiling the key is what it was before the field existed: the canonical job has no `tiling`.
    expect(canonicalJson(await resolved({}))).not.toMatch(/tiling/)
  })
  it('is refused, naming the field, for a model whose backends have no tile graphs', async () => {
    const body = GenerationRequest.parse({ prompt: 'a cat', model: 'stable-cascade', tiling: true })
    const r = await resolveRequest(body, versions, { tilingModels: tiles })
    expect(!r.ok && r.errors).toEqual([{ path: 'tiling', message: expect.stringMatching(/no tile graphs/) }])
    // Without the set (the default) no model tiles.
    expect(
      (await resolveRequest(GenerationRequest.parse({ prompt: 'a cat', tiling: 'y' }), versions)).ok,
    ).toBe(false)
  })
  it('is refused, naming the field, with an input image (the tile graphs take no ControlNet inputs)', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo='
    const r = await resolveRequest(
      GenerationRequest.parse({ prompt: 'a cat', tiling: true, image: png }),
      versions,
      { tilingModels: tiles },
    )
    expect(!r.ok && r.errors.filter((e) => e.path === 'tiling')).toEqual([
      { path: 'tiling', message: expect.stringMatching(/does not combine with image inputs/) },
    ])
  })
  it('accepts only true, false, "x" and "y"', () => {
    for (const tiling of ['xy', 'z', 1, null, 'X'])
      expect(GenerationRequest.safeParse({ prompt: 'a cat', tiling }).success).toBe(false)
  })
})
