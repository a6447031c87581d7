// The unchanged `openai` SDK against `npm start`'s edge: only baseURL changes, and the API key is the local key
// `npm start` printed (its sha256 is in the local API_KEYS KV, exactly as production keys are stored). Its
// multipart images.edit and images.createVariation run on the Stable Cascade demo model.
import OpenAI, { toFile } from 'openai'
import { describe, expect, inject, it } from 'vitest'
import { inputImages } from '../support/input-images.ts'
import { pngSize } from './helpers.ts'

const stack = inject('stack')
const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: stack.apiKey, maxRetries: 0 })

describe('openai SDK', () => {
  it('images.generate with response_format url: the url serves a PNG', async () => {
    const res = await client.images.generate({
      model: 'wuerstchen-v2',
      prompt: 'a watercolor fox in the snow',
      size: '512x512',
      response_format: 'url',
    })
    const url = res.data?.[0]?.url
    expect(url).toMatch(/^http:\/\/.+\/v1\/images\/[0-9a-f]{64}\.png$/)
    const img = await fetch(url as string)
    expect(img.status).toBe(200)
    expect(img.headers.get('Content-Type')).toBe('image/png')
    expect(pngSize(new Uint8Array(await img.arrayBuffer()))).toEqual({ width: 512, height: 512 })
  })

  it('images.generate with response_format b64_json: the base64 decodes to a PNG', async () => {
    const res = await client.images.generate({
      model: 'wuerstchen-v2',
      prompt: 'a paper boat on a pond',
      size: '512x512',
      response_format: 'b64_json',
    })
    const b64 = res.data?.[0]?.b64_json
    expect(typeof b64).toBe('string')
    expect(pngSize(Buffer.from(b64 as string, 'base64'))).toEqual({ width: 512, height: 512 })
  })

  it('images.edit({ image, mask, prompt }): inpainting on the Stable Cascade demo, images of the requested size', async () => {
    const images = await inputImages()
    const file = (name: 'photo' | 'mask') =>
      toFile(Buffer.from(images[name]?.bytes ?? []), `${name}.png`, { type: 'image/png' })
    const res = await client.images.edit({
      model: 'stable-cascade',
      image: await file('photo'),
      mask: await file('mask'),
      prompt: 'a red boat in the harbour',
      size: '512x512',
      n: 2,
      response_format: 'b64_json',
    })
    expect(res.data).toHaveLength(2)
    for (const d of res.data ?? [])
      expect(pngSize(Buffer.from(d.b64_json as string, 'base64'))).toEqual({ width: 512, height: 512 })
  })

  it('images.createVariation({ image }): a variation through CLIP vision, at the requested size', async () => {
    const images = await inputImages()
    const res = await client.images.createVariation({
      model: 'stable-cascade',
      image: await toFile(Buffer.from(images.jpeg?.bytes ?? []), 'photo.jpg', { type: 'image/jpeg' }),
      size: '512x512',
    })
    const url = res.data?.[0]?.url as string
    const img = await fetch(url)
    expect(pngSize(new Uint8Array(await img.arrayBuffer()))).toEqual({ width: 512, height: 512 })
  })

  it('an unknown API key is refused (401), not served as the free tier', async () => {
    const stranger = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'sk-not-a-key-of-this-stack',
      maxRetries: 0,
    })
    await expect(
      stranger.images.generate({ model: 'wuerstchen-v2', prompt: 'anything', size: '512x512' }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })
})
