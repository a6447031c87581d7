// The public API end to end: edge Worker (wrangler dev) -> HMAC-signed request -> real backend running the
// compiled graphs with onnxruntime-node -> image cached in R2 -> served from cache.
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { imagesGenerated } from './metrics.ts'
import { E2E_EDGE } from './stack.ts'

const generate = (body: object) =>
  fetch(`${E2E_EDGE}/v1/images/generations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '203.0.113.7' },
    body: JSON.stringify(body),
  })

describe('end to end', () => {
  it('generates an image through the real backend, then answers the same request from cache', async () => {
    const body = {
      prompt: 'a lighthouse at dusk',
      size: '512x512',
      prior_steps: 3,
      decoder_steps: 2,
      seed: 11,
    }
    const before = await imagesGenerated()
    const first = await generate(body)
    expect(first.status).toBe(200)
    expect(first.headers.get('X-Cache')).toBe('MISS')
    const json = (await first.json()) as { data: { url: string; seed: number }[]; model: string }
    expect(json.model).toBe('wuerstchen-v2')
    expect(json.data[0]?.seed).toBe(11)
    const url = json.data[0]?.url as string
    const img = await fetch(url)
    expect(img.status).toBe(200)
    expect(img.headers.get('Content-Type')).toBe('image/png')
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata()
    expect([meta.width, meta.height]).toEqual([512, 512])
    expect(await imagesGenerated()).toBe(before + 1)

    // Same request with the prompt spelled differently: a cache hit, no backend work.
    const again = await generate({ ...body, prompt: '  A LIGHTHOUSE   at dusk ' })
    expect(again.status).toBe(200)
    expect(again.headers.get('X-Cache')).toBe('HIT')
    expect(((await again.json()) as { data: { url: string }[] }).data[0]?.url).toBe(url)
    expect(await imagesGenerated()).toBe(before + 1)
  })

  it('streams a job through SSE with progress from every stage', async () => {
    const res = await fetch(`${E2E_EDGE}/v1/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '203.0.113.8' },
      body: JSON.stringify({
        prompt: 'a red bicycle',
        size: '512x512',
        prior_steps: 2,
        decoder_steps: 2,
        seed: 5,
      }),
    })
    expect(res.status).toBe(202)
    const job = (await res.json()) as { id: string; events_url: string }
    const events = await fetch(job.events_url)
    const text = await events.text()
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])
    expect(names.at(-1)).toBe('succeeded')
    const stages = [...text.matchAll(/"stage":"(\w+)"/g)].map((m) => m[1])
    for (const s of stages) expect(['text', 'c', 'b', 'a', 'encode']).toContain(s)
    for (const s of ['c', 'b', 'a']) expect(stages).toContain(s)
    expect(stages.indexOf('c')).toBeLessThan(stages.indexOf('b'))
    expect(stages.indexOf('b')).toBeLessThan(stages.indexOf('a'))
    const status = (await (await fetch(`${E2E_EDGE}/v1/jobs/${job.id}`)).json()) as { status: string }
    expect(status.status).toBe('succeeded')
  })

  it('rejects a bad request at the edge without reaching the backend', async () => {
    const before = await imagesGenerated()
    const res = await generate({ prompt: 'x', size: '500x500', bogus: 1 })
    expect(res.status).toBe(400)
    expect(res.headers.get('Content-Type')).toContain('application/problem+json')
    const p = (await res.json()) as { code: string; errors: { path: string }[] }
    expect(p.code).toBe('invalid_request')
    expect(p.errors.map((e) => e.path).sort()).toEqual(expect.arrayContaining(['size']))
    expect(await imagesGenerated()).toBe(before)
  })
})
