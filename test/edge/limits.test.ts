import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../shared/src/index.ts'
import { awaitFreshWindow, expectCommonHeaders, expectProblem, generate, get } from './helpers.ts'

describe('rate limits', () => {
  it('burst-limits cache misses per CF-Connecting-IP (X-Forwarded-For ignored); hits are exempt', async () => {
    await awaitFreshWindow()
    const ip = '203.0.113.7'
    for (let i = 0; i < 10; i++) {
      const res = await generate(
        { prompt: `burst ${i}` },
        { 'CF-Connecting-IP': ip, 'X-Forwarded-For': `10.9.9.${i}` },
      )
      expect(res.status).toBe(200)
      expect(res.headers.get('RateLimit')).toMatch(/"gen";r=1;t=60, "daily";r=\d+;t=\d+/)
    }
    const limited = await generate(
      { prompt: 'burst 10' },
      { 'CF-Connecting-IP': ip, 'X-Forwarded-For': '1.2.3.4' },
    )
    await expectProblem(limited, 429, 'rate_limited')
    expect(limited.headers.get('Retry-After')).toBe('60')
    expect(limited.headers.get('RateLimit')).toMatch(/"gen";r=0;t=60/)
    expectCommonHeaders(limited)
    const hit = await generate({ prompt: 'burst 0' }, { 'CF-Connecting-IP': ip })
    expect(hit.status).toBe(200)
    expect(hit.headers.get('X-Cache')).toBe('HIT')
    expect((await generate({ prompt: 'burst 10' }, { 'CF-Connecting-IP': '203.0.113.8' })).status).toBe(200)
  })

  it('enforces the exact daily quota for a bearer key tier; hits do not consume it', async () => {
    const token = 'test-pro-key-0123456789'
    await env.API_KEYS.put(`key:${await sha256Hex(token)}`, JSON.stringify({ tier: 'pro' }))
    const auth = { Authorization: `Bearer ${token}` }
    for (let i = 0; i < 3; i++) {
      const res = await generate({ prompt: `quota ${i}` }, auth)
      expect(res.status).toBe(200)
      expect(res.headers.get('RateLimit')).toContain(`"daily";r=${2 - i};`)
      expect((await generate({ prompt: `quota ${i}` }, auth)).headers.get('X-Cache')).toBe('HIT')
    }
    const over = await generate({ prompt: 'quota 3' }, auth)
    const p = await expectProblem(over, 429, 'quota_exceeded')
    expect(p.detail).toMatch(/daily quota/)
    expect(Number(over.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect((await generate({ prompt: 'quota 0' }, auth)).status).toBe(200)
  })

  it('rejects an unknown or malformed bearer key with 401, never falling back to free', async () => {
    await expectProblem(
      await generate({ prompt: 'x' }, { Authorization: 'Bearer not-a-known-key-123' }),
      401,
      'unauthorized',
    )
    await expectProblem(await get('/v1/models', { Authorization: 'Basic abc' }), 401, 'unauthorized')
  })

  it('limits cache hits and image GETs by the looser read limit, per client', async () => {
    await awaitFreshWindow()
    const ip = '203.0.113.99'
    const res = await generate({ prompt: 'read limit' }, { 'CF-Connecting-IP': ip })
    const url = new URL(((await res.json()) as { data: { url: string }[] }).data[0]?.url as string)
    // The generation was a miss (charged to the burst limit); the free tier's read limit is 300 per 60 s.
    const read = Number(/"read";q=(\d+)/.exec(res.headers.get('RateLimit-Policy') ?? '')?.[1])
    expect(read).toBeGreaterThan(0)
    for (let i = 0; i < read; i++) {
      const r =
        i % 2
          ? await get(url.pathname, { 'CF-Connecting-IP': ip })
          : await generate({ prompt: 'read limit' }, { 'CF-Connecting-IP': ip })
      expect(r.status).toBe(200)
      await r.arrayBuffer()
    }
    for (const over of [
      await get(url.pathname, { 'CF-Connecting-IP': ip }),
      await generate({ prompt: 'read limit' }, { 'CF-Connecting-IP': ip }),
    ]) {
      await expectProblem(over, 429, 'rate_limited')
      expect(over.headers.get('Retry-After')).toBe('60')
      expect(over.headers.get('RateLimit')).toMatch(/"read";r=0;t=60/)
    }
    expect((await get(url.pathname, { 'CF-Connecting-IP': '203.0.113.100' })).status).toBe(200)
  })

  it('puts RateLimit headers on every response', async () => {
    for (const path of ['/healthz', '/v1/models', '/nope', `/v1/images/${'1'.repeat(64)}.png`])
      expectCommonHeaders(await get(path))
  })
})
