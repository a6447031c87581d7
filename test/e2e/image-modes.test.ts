// Image inputs end to end: the edge (wrangler dev) checks, stores and signs them, the real backend decodes them with
// sharp and runs the image graphs of a tiny Stable Cascade: img2img and canny return images of the requested size,
// a job streams live previews (JPEGs of Stage C's x0) before it succeeds, the OpenAI edits endpoint inpaints, and
// an input only the backend can refuse (well-formed, undecodable) is the client's 400 naming the field.
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { type InputImage, inputImages } from '../support/input-images.ts'
import { readEvents } from '../support/sse-stream.ts'
import { imagesGenerated } from './metrics.ts'
import { E2E_EDGE } from './stack.ts'

let images: Record<string, InputImage>
beforeAll(async () => {
  images = await inputImages()
})
const b64 = (name: string) => Buffer.from((images[name] as InputImage).bytes).toString('base64')
const client = (n: number) => ({ 'CF-Connecting-IP': `203.0.113.${40 + n}` })
const small = { model: 'stable-cascade', size: '512x512', prior_steps: 4, decoder_steps: 2 }

const post = (path: string, body: object, n: number) =>
  fetch(`${E2E_EDGE}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...client(n) },
    body: JSON.stringify(body),
  })

async function imageAt(url: string): Promise<[number | undefined, number | undefined]> {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
  return [meta.width, meta.height]
}

describe('image modes end to end (tiny Stable Cascade)', () => {
  it('img2img at strength 0.5 and canny control return images of the requested size, then hit the cache', async () => {
    for (const [i, fields] of [
      { image: b64('photo'), strength: 0.5, prompt: 'img2img e2e' },
      { control: { type: 'canny', image: b64('jpeg') }, prompt: 'canny e2e', size: '640x512' },
    ].entries()) {
      const body = { ...small, seed: 21, ...fields }
      const res = await post('/v1/images/generations', body, i)
      expect(res.status, await res.clone().text()).toBe(200)
      expect(res.headers.get('X-Cache')).toBe('MISS')
      const url = ((await res.json()) as { data: { url: string }[] }).data[0]?.url as string
      expect(await imageAt(url)).toEqual(fields.size === '640x512' ? [640, 512] : [512, 512])
      const again = await post('/v1/images/generations', body, i)
      expect(again.headers.get('X-Cache')).toBe('HIT')
    }
  })

  it('a job streams previews of Stage C, then succeeds', async () => {
    const res = await post(
      '/v1/jobs',
      { ...small, prompt: 'previews e2e', seed: 3, image: b64('photo'), strength: 1 },
      3,
    )
    expect(res.status).toBe(202)
    const { events_url } = (await res.json()) as { events_url: string }
    const events = await readEvents(await fetch(events_url))
    const previews = events.filter((e) => e.event === 'preview').map((e) => JSON.parse(e.data))
    expect(previews.map((p) => p.step)).toEqual([1, 2, 3, 4])
    const meta = await sharp(Buffer.from(previews[0].b64, 'base64')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 96, 96])
    expect(events.at(-1)?.event).toBe('succeeded')
  })

  it('OpenAI edits (multipart) inpaints with the image alpha as the mask', async () => {
    const form = new FormData()
    form.append('image', new File([(images.alpha as InputImage).bytes], 'alpha.png', { type: 'image/png' }))
    form.append('prompt', 'edits e2e')
    form.append('model', 'stable-cascade')
    form.append('size', '512x512')
    form.append('prior_steps', '3')
    form.append('decoder_steps', '1')
    const res = await fetch(`${E2E_EDGE}/v1/images/edits`, { method: 'POST', headers: client(4), body: form })
    expect(res.status, await res.clone().text()).toBe(200)
    const url = ((await res.json()) as { data: { url: string }[] }).data[0]?.url as string
    expect(await imageAt(url)).toEqual([512, 512])
  })

  it('an input only the backend can refuse is a 400 naming it; nothing is generated', async () => {
    const before = await imagesGenerated()
    for (const path of ['/v1/images/generations', '/v1/jobs']) {
      const res = await post(path, { ...small, prompt: 'corrupt e2e', image: b64('corrupt') }, 5)
      let problem: { status: number; code: string; errors?: { path: string }[] }
      if (path === '/v1/jobs') {
        const { events_url } = (await res.json()) as { events_url: string }
        const events = await readEvents(await fetch(events_url))
        expect(events.at(-1)?.event).toBe('failed')
        problem = JSON.parse(events.at(-1)?.data ?? '{}')
      } else {
        expect(res.headers.get('Content-Type')).toBe('application/problem+json')
        problem = (await res.json()) as typeof problem
      }
      expect(problem).toMatchObject({ status: 400, code: 'invalid_request', errors: [{ path: 'image' }] })
    }
    // A header-refused input never reaches the backend.
    const bomb = await post('/v1/images/generations', { ...small, prompt: 'bomb e2e', image: b64('bomb') }, 6)
    expect(bomb.status).toBe(400)
    expect(await imagesGenerated()).toBe(before)
  })
})
