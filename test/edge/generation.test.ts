import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { JOB_QUEUE_RETRIES } from '../edge-backend/queue-settings.ts'
import {
  backendCalls,
  expectCommonHeaders,
  expectProblem,
  freshIp,
  generate,
  get,
  keysOf,
} from './helpers.ts'

describe('POST /v1/images/generations', () => {
  it('misses, then hits the cache; the URL serves the PNG', async () => {
    const body = { prompt: 'cache test one' }
    const first = await generate(body)
    expect(first.status).toBe(200)
    expect(first.headers.get('X-Cache')).toBe('MISS')
    expectCommonHeaders(first)
    expect(first.headers.get('Server-Timing')).toMatch(/backend-stage_c;dur=3/)
    const j = (await first.json()) as { data: { url: string; seed: number }[]; model: string }
    expect(j.model).toBe('wuerstchen-v2')
    const [key] = await keysOf(body)
    expect(j.data[0]?.url).toBe(`https://edge.test/v1/images/${key}.png`)
    const second = await generate(body)
    expect(second.headers.get('X-Cache')).toBe('HIT')
    expect(await second.json()).toMatchObject({ data: j.data })
    expect((await backendCalls(body.prompt))?.count).toBe(1)
    const img = await get(`/v1/images/${key}.png`)
    expect(img.status).toBe(200)
    expect(img.headers.get('Content-Type')).toBe('image/png')
    expect(img.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable')
    expect(img.headers.get('ETag')).toBe(`"${key}"`)
    const bytes = new Uint8Array(await img.arrayBuffer())
    expect([...bytes.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47])
    const notModified = await get(`/v1/images/${key}.png`, { 'If-None-Match': `"${key}"` })
    expect(notModified.status).toBe(304)
    expectCommonHeaders(notModified)
  })

  it('shares a key between spelled-out and omitted defaults, and case/whitespace variants', async () => {
    const a = await generate({ prompt: 'Shared  KEY test' })
    expect(a.headers.get('X-Cache')).toBe('MISS')
    const b = await generate({
      prompt: '  shared key   test ',
      negative_prompt: '',
      model: 'wuerstchen-v2',
      n: 1,
      size: '1024x1024',
      prior_steps: 29,
      prior_guidance: 4,
      decoder_steps: 12,
      decoder_guidance: 0,
      output_format: 'png',
    })
    expect(b.headers.get('X-Cache')).toBe('HIT')
    expect((await backendCalls('shared key test'))?.count).toBe(1)
  })

  it('returns b64_json, n images with seed + i', async () => {
    const res = await generate({ prompt: 'b64 test', n: 2, seed: 10, response_format: 'b64_json' })
    expect(res.status).toBe(200)
    const j = (await res.json()) as { data: { b64_json: string; seed: number }[] }
    expect(j.data.map((d) => d.seed)).toEqual([10, 11])
    expect(atob(j.data[0]?.b64_json ?? '').slice(1, 4)).toBe('PNG')
    const hit = await generate({ prompt: 'b64 test', n: 2, seed: 10, response_format: 'b64_json' })
    expect(hit.headers.get('X-Cache')).toBe('HIT')
    expect(await hit.json()).toMatchObject({ data: j.data })
  })

  it('coalesces 50 identical concurrent misses into one backend call', async () => {
    const body = { prompt: 'coalesce fifty' }
    const all = await Promise.all(
      Array.from({ length: 50 }, () => generate(body, { 'CF-Connecting-IP': freshIp() })),
    )
    const jsons = await Promise.all(all.map((r) => r.json() as Promise<{ data: unknown }>))
    expect(all.every((r) => r.status === 200)).toBe(true)
    expect(new Set(jsons.map((j) => JSON.stringify(j.data))).size).toBe(1)
    expect((await backendCalls(body.prompt))?.count).toBe(1)
  })

  it('signs backend calls with valid HMAC headers and asks for image/* in sync mode', async () => {
    await generate({ prompt: 'hmac check' })
    const calls = await backendCalls('hmac check')
    expect(calls).toMatchObject({ lastSignatureOk: true, badSignatures: 0, lastAccept: 'image/*' })
  })

  it('fails over past a down backend and a busy one', async () => {
    const res = await generate({ prompt: 'failover [503@18788]' })
    expect(res.status).toBe(200)
    const res2 = await generate({ prompt: 'failover two [503@18789]' })
    expect(res2.status).toBe(200)
  })

  it('every backend busy: the request waits in the jobs queue and succeeds once a backend frees up', async () => {
    // Both backends refuse the direct dispatch; the queue consumer's first delivery finds one free.
    const body = { prompt: 'busy then free [busy:2]' }
    const res = await generate(body)
    expect(res.status).toBe(200)
    expect(res.headers.get('X-Cache')).toBe('MISS')
    expect(res.headers.get('Server-Timing')).toMatch(/queue;dur=/)
    const [key] = await keysOf(body)
    expect(((await res.json()) as { data: { url: string }[] }).data[0]?.url).toBe(
      `https://edge.test/v1/images/${key}.png`,
    )
    expect((await backendCalls(body.prompt))?.count).toBe(3)
    expect(await env.IMAGES.head(`${key}.png`)).not.toBeNull()
  })

  it('every backend busy through all the retries of the queue: 503 backend_unavailable with Retry-After, nothing cached', async () => {
    const body = { prompt: 'all busy [503]' }
    const res = await generate(body)
    await expectProblem(res, 503, 'backend_unavailable')
    expect(res.headers.get('Retry-After')).toBe('7')
    expectCommonHeaders(res)
    // The direct dispatch, then each delivery of the queued job, asked both backends.
    expect((await backendCalls(body.prompt))?.count).toBe(2 + 2 * (JOB_QUEUE_RETRIES + 1))
    const [key] = await keysOf(body)
    expect(await env.IMAGES.head(`${key}.png`)).toBeNull()
  })

  it('treats garbage, truncated and wrong-sized images as failures, never cached', async () => {
    for (const prompt of ['garbage [garbage]', 'truncated [truncated]', 'wrong size [wrongsize]']) {
      const res = await generate({ prompt })
      await expectProblem(res, 503, 'backend_unavailable')
      const [key] = await keysOf({ prompt })
      expect(await env.IMAGES.head(`${key}.png`)).toBeNull()
      expect((await get(`/v1/images/${key}.png`)).status).toBe(404)
    }
  })

  it('answers 504 backend_timeout on a slow backend', async () => {
    const res = await generate({ prompt: 'slow [slow]' })
    await expectProblem(res, 504, 'backend_timeout')
    const [key] = await keysOf({ prompt: 'slow [slow]' })
    expect(await env.IMAGES.head(`${key}.png`)).toBeNull()
  })

  it('a failed generation is not cached: the next request calls the backend again', async () => {
    const body = { prompt: 'fails [fail]' }
    expect((await generate(body)).status).toBe(503)
    expect((await generate(body)).status).toBe(503)
    expect((await backendCalls(body.prompt))?.count).toBe(4)
  })
})

describe('GET /v1/images/{key}', () => {
  it('404s bad keys without touching storage', async () => {
    for (const bad of [
      'abc.png',
      `${'A'.repeat(64)}.png`,
      `${'a'.repeat(64)}.gif`,
      `${'a'.repeat(63)}.png`,
      'x',
    ]) {
      const res = await get(`/v1/images/${bad}`)
      await expectProblem(res, 404, 'not_found')
      expect(res.headers.get('Server-Timing')).not.toMatch(/storage/)
    }
  })
  it('404s an unknown well-formed key after looking', async () => {
    const res = await get(`/v1/images/${'0'.repeat(64)}.png`)
    await expectProblem(res, 404, 'not_found')
    expect(res.headers.get('Server-Timing')).toMatch(/storage/)
  })
})
