// Security: client-supplied address headers cannot change the free-tier identity (CF-Connecting-IP); an API key
// is never logged nor echoed; error bodies carry no stack traces, file paths or backend URLs, even when every
// backend fails or answers garbage (the stand-in's [503], [garbage], [truncated], [slow], [reject], [leaky]).
import { env, SELF } from 'cloudflare:test'
import { afterEach, describe, expect, it } from 'vitest'
import { type Problem, sha256Hex } from '../../../shared/src/index.ts'
import { readSse } from '../../edge/helpers.ts'
import {
  BASE,
  backendCalls,
  backendUrls,
  checkResponse,
  leaks,
  type Seen,
  type Sent,
  tierLimits,
} from './support.ts'

let ipCounter = 0
const freshIp = () => `198.18.${Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 1}`

async function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: object,
): Promise<Seen> {
  const sent: Sent = {
    method,
    path,
    headers: {
      'CF-Connecting-IP': freshIp(),
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  }
  const res = await SELF.fetch(`${BASE}${path}`, { method, headers: sent.headers, body: sent.body as string })
  const seen: Seen = { res, text: await res.text() }
  checkResponse(sent, seen, { serverErrors: true })
  return seen
}
const generate = (prompt: string, headers: Record<string, string> = {}) =>
  call('POST', '/v1/images/generations', headers, { prompt })

// --- console capture (the worker, its Durable Objects and the tests share this isolate) -------------------------

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const
const captured: string[] = []
const originals = METHODS.map((m) => console[m])
const describeArg = (a: unknown): string => {
  if (a instanceof Error) return `${a.name}: ${a.message}\n${a.stack ?? ''}`
  if (typeof a === 'string') return a
  try {
    return JSON.stringify(a) ?? String(a)
  } catch {
    return String(a)
  }
}
function captureConsole(): void {
  METHODS.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      captured.push(args.map(describeArg).join(' '))
      originals[i]?.apply(console, args)
    }
  })
}
afterEach(() => {
  METHODS.forEach((m, i) => {
    console[m] = originals[i] as (typeof console)[typeof m]
  })
})

describe('security', () => {
  it('X-Forwarded-For, X-Real-IP, True-Client-IP and Forwarded cannot change the free-tier identity', async () => {
    const ip = '203.0.113.77'
    const spoofs: Record<string, string>[] = [
      { 'X-Forwarded-For': '198.51.100.1' },
      { 'X-Forwarded-For': '198.51.100.2, 10.0.0.1' },
      { 'X-Real-IP': '198.51.100.3' },
      { 'True-Client-IP': '198.51.100.4' },
      { Forwarded: 'for=198.51.100.5;proto=https' },
      { 'X-Client-IP': '198.51.100.6', 'CF-Connecting-IPv6': '2001:db8::6' },
      {
        'X-Forwarded-For': '198.51.100.7',
        'X-Real-IP': '198.51.100.7',
        'True-Client-IP': '198.51.100.7',
        Forwarded: 'for=198.51.100.7',
      },
    ]
    // Use up the daily quota with real generations, each with a different spoofed address: all count against
    // the one CF-Connecting-IP.
    const { daily } = tierLimits().free
    const used = await Promise.all(
      Array.from({ length: daily }, (_, i) =>
        generate(`spoof quota ${i}`, { 'CF-Connecting-IP': ip, ...spoofs[i % spoofs.length] }),
      ),
    )
    expect(used.map((s) => s.res.status)).toEqual(Array.from({ length: daily }, () => 200))

    for (const [i, spoof] of spoofs.entries()) {
      const over = await generate(`spoof over ${i}`, { 'CF-Connecting-IP': ip, ...spoof })
      expect(over.res.status).toBe(429)
      expect(over.problem?.code).toBe('quota_exceeded')
      expect(over.res.headers.get('RateLimit')).toMatch(/"daily";r=0;/)
      expect(await backendCalls(`spoof over ${i}`)).toBe(0)
    }
    // Nor can a client borrow another's identity: a fresh address claiming the used-up one is served.
    const other = await generate('spoof other', { 'CF-Connecting-IP': '203.0.113.78', 'X-Forwarded-For': ip })
    expect(other.res.status).toBe(200)
  })

  it('never logs an API key nor echoes it in a body, whether it is good, unknown, malformed or corrupt', async () => {
    const good = `sk-chaos-good-${crypto.randomUUID()}`
    const unknown = `sk-chaos-unknown-${crypto.randomUUID()}`
    const corrupt = `sk-chaos-corrupt-${crypto.randomUUID()}`
    await env.API_KEYS.put(`key:${await sha256Hex(good)}`, JSON.stringify({ tier: 'pro', name: 'chaos' }))
    await env.API_KEYS.put(`key:${await sha256Hex(corrupt)}`, 'not json {')
    const secrets = [good, unknown, corrupt]

    captureConsole()
    const seen: Seen[] = []
    seen.push(await call('GET', '/v1/models', { Authorization: `Bearer ${good}` }))
    seen.push(await call('GET', '/v1/models', { Authorization: `bearer ${good}` })) // the scheme is case-insensitive
    seen.push(await generate('key: a good key', { Authorization: `Bearer ${good}` }))
    seen.push(await generate('key: every backend busy [503]', { Authorization: `Bearer ${good}` }))
    for (const auth of [
      `Bearer ${unknown}`,
      `Bearer ${good} extra`,
      `Basic ${good}`,
      `Bearer ${good.repeat(10)}`,
      good,
    ])
      seen.push(await generate('key: refused', { Authorization: auth }))
    // A key whose record is corrupt is an internal error: the one path that logs the request's failure.
    const broken = await SELF.fetch(`${BASE}/v1/models`, {
      headers: { Authorization: `Bearer ${corrupt}`, 'CF-Connecting-IP': freshIp() },
    })
    seen.push({ res: broken, text: await broken.text() })

    expect(seen.map((s) => s.res.status)).toEqual([200, 200, 200, 503, 401, 401, 401, 401, 401, 500])
    expect(seen[9]?.text).toContain('"code":"internal"')
    // The capture sees the worker's and the Durable Objects' logs: the corrupt record, and the busy backends named
    // for the operator (in the log only).
    expect(captured.some((l) => l.includes('unhandled'))).toBe(true)
    expect(captured.some((l) => backendUrls().some((u) => l.includes(u)))).toBe(true)
    for (const secret of secrets) {
      for (const line of captured) expect(line).not.toContain(secret)
      for (const s of seen) {
        expect(s.text).not.toContain(secret)
        for (const [name, value] of s.res.headers) expect(`${name}: ${value}`).not.toContain(secret)
      }
    }
    expect(leaks(seen[9]?.text ?? '')).toEqual([])
  })

  describe('error bodies carry nothing internal when the backend fails', () => {
    const cases: [prompt: string, status: number, code: string][] = [
      ['backend busy or down [503]', 503, 'backend_unavailable'],
      ['backend answers garbage [garbage]', 503, 'backend_unavailable'],
      ['backend answers a truncated image [truncated]', 503, 'backend_unavailable'],
      ['backend fails with internal text [leaky]', 503, 'backend_unavailable'],
      ['backend rejects the job with internal text [reject]', 500, 'internal'],
      ['backend too slow [slow]', 504, 'backend_timeout'],
    ]
    const internal = () => [
      ...backendUrls(),
      'stage_c.onnx',
      'scheduler.ts',
      '/work/',
      'at run (',
      'ECONNREFUSED',
    ]
    const expectClean = (text: string) => {
      expect(leaks(text)).toEqual([])
      for (const s of internal()) expect(text).not.toContain(s)
    }

    for (const [prompt, status, code] of cases) {
      it(`sync generation: ${prompt}`, async () => {
        const seen = await generate(prompt)
        expect(seen.res.status).toBe(status)
        expect(seen.problem?.code).toBe(code)
        expectClean(seen.text)
      })
    }

    for (const [prompt, status, code] of cases) {
      it(`async job: ${prompt}`, async () => {
        const created = await call('POST', '/v1/jobs', {}, { prompt: `job: ${prompt}` })
        expect(created.res.status).toBe(202)
        const { id } = JSON.parse(created.text) as { id: string }
        const events = await readSse((await SELF.fetch(`${BASE}/v1/jobs/${id}/events`)) as Response)
        const [name, data] = events.at(-1) ?? []
        expect(name).toBe('failed')
        expect((data as Problem).code).toBe(code)
        expectClean(JSON.stringify(events))
        const state = await call('GET', `/v1/jobs/${id}`, {})
        expect(JSON.parse(state.text)).toMatchObject({ status: 'failed', error: { code, status } })
        expectClean(state.text)
        const result = await call('GET', `/v1/jobs/${id}/result`, {})
        expect(result.res.status).toBe(status)
        expectClean(result.text)
      })
    }
  })
})
