// Load: a thousand concurrent cache hits, a hundred concurrent identical misses (one backend generation), and the
// exact daily quota under concurrency. Asserts outcomes only (statuses, bytes, backend calls), never timing.
import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { fromBase64, sha256Hex, toHex } from '../../../shared/src/index.ts'
import { BASE, backendCalls, backendGenerations, tierLimits } from './support.ts'

let ipCounter = 0
/** A fresh client address (TEST-NET-2), so every identity starts with a full quota. */
const freshIp = () => {
  const n = ipCounter++
  return `198.51.${100 + Math.floor(n / 250)}.${(n % 250) + 1}`
}

const generate = (body: object, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}/v1/images/generations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp(), ...headers },
    body: JSON.stringify(body),
  })

const getImage = (path: string) =>
  SELF.fetch(`${BASE}${path}`, { headers: { 'CF-Connecting-IP': freshIp() } })

const hex = async (bytes: ArrayBuffer | Uint8Array<ArrayBuffer>) =>
  toHex(await crypto.subtle.digest('SHA-256', bytes))
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

interface Generated {
  data: { url?: string; b64_json?: string; seed: number }[]
}

describe('load', () => {
  it('1,000 concurrent cache-hit POSTs and 1,000 image GETs: no errors, one image, one backend call', async () => {
    const body = { prompt: 'load: a thousand cache hits' }
    const primed = await generate(body)
    expect(primed.status).toBe(200)
    expect(primed.headers.get('X-Cache')).toBe('MISS')
    const url = ((await primed.json()) as Generated).data[0]?.url as string
    const path = new URL(url).pathname
    const original = await getImage(path)
    expect(original.status).toBe(200)
    const digest = await hex(await original.arrayBuffer())

    const posts = await Promise.all(
      range(1000).map(async () => {
        const res = await generate(body)
        return { status: res.status, cache: res.headers.get('X-Cache'), text: await res.text() }
      }),
    )
    expect(posts.filter((p) => p.status !== 200)).toEqual([])
    expect(new Set(posts.map((p) => p.cache))).toEqual(new Set(['HIT']))
    const urls = new Set(posts.map((p) => (JSON.parse(p.text) as Generated).data[0]?.url))
    expect(urls).toEqual(new Set([url]))

    const gets = await Promise.all(
      range(1000).map(async () => {
        const res = await getImage(path)
        return {
          status: res.status,
          type: res.headers.get('Content-Type'),
          digest: await hex(await res.arrayBuffer()),
        }
      }),
    )
    expect(gets.filter((g) => g.status !== 200)).toEqual([])
    expect(new Set(gets.map((g) => `${g.type} ${g.digest}`))).toEqual(new Set([`image/png ${digest}`]))
    expect(await backendCalls(body.prompt)).toBe(1)
  })

  it('100 identical concurrent misses: exactly one backend generation, every request gets the same image', async () => {
    const prompt = 'load: a hundred identical misses'
    const before = await backendGenerations()
    // Half ask for URLs, half for the bytes: response_format is not part of the key, so all 100 share one.
    const results = await Promise.all(
      range(100).map(async (i) => {
        const res = await generate({ prompt, response_format: i % 2 ? 'url' : 'b64_json' })
        return { status: res.status, body: (await res.json()) as Generated }
      }),
    )
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    expect(await backendCalls(prompt)).toBe(1)
    expect((await backendGenerations()) - before).toBe(1)

    const urls = new Set(results.flatMap((r) => r.body.data.flatMap((d) => (d.url ? [d.url] : []))))
    const digests = new Set(
      await Promise.all(
        results.flatMap((r) =>
          r.body.data.flatMap((d) => (d.b64_json ? [hex(new Uint8Array(fromBase64(d.b64_json)))] : [])),
        ),
      ),
    )
    expect(urls.size).toBe(1)
    expect(digests.size).toBe(1)
    const stored = await getImage(new URL([...urls][0] as string).pathname)
    expect(stored.status).toBe(200)
    expect(await hex(await stored.arrayBuffer())).toBe([...digests][0])
    expect(new Set(results.map((r) => r.body.data[0]?.seed)).size).toBe(1)
  })

  it('keeps the daily quota exact under concurrency: 3N parallel misses from one identity, exactly N generated', async () => {
    const token = 'chaos-load-pro-key-0123456789'
    await env.API_KEYS.put(`key:${await sha256Hex(token)}`, JSON.stringify({ tier: 'pro' }))
    const identities: { name: string; n: number; headers: Record<string, string> }[] = [
      {
        name: 'free (one CF-Connecting-IP)',
        n: tierLimits().free.daily,
        headers: { 'CF-Connecting-IP': '203.0.113.200' },
      },
      { name: 'pro (one API key)', n: tierLimits().pro.daily, headers: { Authorization: `Bearer ${token}` } },
    ]
    const before = await backendGenerations()
    const outcomes = await Promise.all(
      identities.map(async ({ name, n, headers }) => {
        const prompts = range(3 * n).map((i) => `load: quota ${name} ${i}`)
        const answers = await Promise.all(
          prompts.map(async (prompt) => {
            const res = await generate({ prompt }, headers)
            return { prompt, status: res.status, code: ((await res.json()) as { code?: string }).code }
          }),
        )
        return { n, answers }
      }),
    )
    let generated = 0
    for (const { n, answers } of outcomes) {
      const ok = answers.filter((a) => a.status === 200)
      const rest = answers.filter((a) => a.status !== 200)
      expect(ok).toHaveLength(n)
      expect(rest.map((a) => `${a.status} ${a.code}`)).toEqual(range(2 * n).map(() => '429 quota_exceeded'))
      for (const a of ok) expect(await backendCalls(a.prompt)).toBe(1)
      for (const a of rest) expect(await backendCalls(a.prompt)).toBe(0)
      generated += n
    }
    expect((await backendGenerations()) - before).toBe(generated)
  })
})
