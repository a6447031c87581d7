// The backend service with image inputs over real HTTP: a tiny Stable Cascade model (make-tiny: every image graph)
// served by startService, called as the edge calls it (a signed multipart body: shared's encodeBackendBody).
// Every mode returns an image of the job's size; previews stream in SSE; an input the decoder refuses is a 400
// naming its field with the undecodable hash; parts that do not match the job are refused; /readyz lists modes.
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BackendJob, encodeBackendBody, type Job, signRequest } from '../../shared/src/index.ts'
import { type InputImage, inputImages } from '../../test/support/input-images.ts'
import { readEvents } from '../../test/support/sse-stream.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { type RunningService, startService } from '../src/service/server.ts'
import { backendJob } from './backend-job.ts'

const SECRET = 'service-images-secret'
let svc: RunningService
let version: string
let images: Record<string, InputImage>

beforeAll(async () => {
  images = await inputImages()
  const dir = mkdtempSync(join(tmpdir(), 'service-sc-'))
  version = (await makeTiny({ family: 'stable-cascade', outDir: dir, seed: 5 })).weights_version
  svc = await startService(
    {
      port: 0,
      host: '127.0.0.1',
      secret: SECRET,
      modelDirs: [dir],
      queueDepth: 4,
      maxBatch: 4,
      batchWindowMs: 15,
      jobTimeoutMs: 120_000,
      previewIntervalMs: 0,
      provider: 'cpu',
      verifySha256: false,
    },
    { keepAliveMs: 200 },
  )
  await svc.ready
})
afterAll(() => svc?.close())

const bytes = (name: string) => (images[name] as InputImage).bytes
const sha = (name: string) => createHash('sha256').update(bytes(name)).digest('hex')

const job = (over: Partial<Job>) =>
  backendJob({ model: 'stable-cascade', model_version: version, width: 512, height: 512, ...over })

async function post(
  j: BackendJob,
  parts: string[],
  opts: { accept?: string; swap?: [string, Uint8Array] } = {},
): Promise<Response> {
  const inputs = new Map(parts.map((n) => [sha(n), bytes(n)]))
  if (opts.swap) inputs.set(opts.swap[0], opts.swap[1])
  const { body, contentType } = encodeBackendBody(j, inputs)
  return fetch(`${svc.url}/v1/generate`, {
    method: 'POST',
    body,
    headers: {
      'Content-Type': contentType,
      Accept: opts.accept ?? 'image/*',
      ...(await signRequest(SECRET, body)),
    },
  })
}

async function expectImage(res: Response, width = 512, height = 512) {
  expect(res.status, await res.clone().text()).toBe(200)
  const meta = await sharp(new Uint8Array(await res.arrayBuffer())).metadata()
  expect([meta.width, meta.height]).toEqual([width, height])
}

describe('image jobs on the backend (tiny Stable Cascade)', () => {
  it('/readyz lists the modes the directory allows, and previews', async () => {
    const r = (await (await fetch(`${svc.url}/readyz`)).json()) as {
      models: { modes: string[]; previews: boolean }[]
    }
    expect(r.models[0]).toMatchObject({
      modes: ['text', 'variation', 'img2img', 'inpainting', 'outpainting', 'canny'],
      previews: true,
    })
  })

  it('every mode answers an image of the job size', async () => {
    await expectImage(await post(await job({ image: sha('photo') }), ['photo']))
    await expectImage(await post(await job({ image: sha('rotated'), strength: 0.5 }), ['rotated']))
    await expectImage(
      await post(await job({ image: sha('photo'), mask: sha('mask'), strength: 1, composite: true }), [
        'photo',
        'mask',
      ]),
    )
    await expectImage(
      await post(await job({ image: sha('alpha'), mask: sha('alpha'), strength: 1, composite: true }), [
        'alpha',
      ]),
    )
    const placement = { x: 64, y: 64, width: 256, height: 128 }
    await expectImage(
      await post(await job({ image: sha('cmyk'), placement, strength: 1, composite: true }), ['cmyk']),
    )
    const control = { type: 'canny' as const, image: sha('png16'), strength: 1, preprocessed: false }
    await expectImage(await post(await job({ control, width: 640 }), ['png16']), 640, 512)
  })

  it('streams throttled previews (every step here) before the result', async () => {
    const res = await post(await job({ image: sha('photo'), strength: 1, prior_steps: 3 }), ['photo'], {
      accept: 'text/event-stream',
    })
    const events = await readEvents(res)
    const previews = events.filter((e) => e.event === 'preview').map((e) => JSON.parse(e.data))
    expect(previews.map((p) => p.step)).toEqual([1, 2, 3])
    const jpeg = await sharp(Buffer.from(previews[0].b64, 'base64')).metadata()
    // The previewer's 8× of the Stage C latent (512 px: 12×12 -> 96×96).
    expect([jpeg.format, jpeg.width, jpeg.height]).toEqual(['jpeg', 96, 96])
    expect(events.at(-1)?.event).toBe('result')
    const at = (name: string) => events.findIndex((e) => e.event === name)
    expect(at('preview')).toBeLessThan(at('result'))
  })

  it('refuses an undecodable input (400 naming the field, its hash listed) and a mask it cannot use', async () => {
    const res = await post(await job({ image: sha('corrupt') }), ['corrupt'])
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'image', message: expect.stringMatching(/could not be decoded/) }],
      refused_inputs: [sha('corrupt')],
    })
    const noAlpha = await post(await job({ image: sha('photo'), mask: sha('photo'), strength: 1 }), ['photo'])
    expect(noAlpha.status).toBe(400)
    const body = (await noAlpha.json()) as { errors: { path: string }[]; refused_inputs?: string[] }
    expect(body.errors.map((e) => e.path)).toEqual(['mask'])
    expect(body.refused_inputs).toBeUndefined()
  })

  it('refuses parts that do not match the job, and a mode the model lacks', async () => {
    const swapped = await post(await job({ image: sha('photo') }), [], {
      swap: [sha('photo'), bytes('jpeg')],
    })
    expect(swapped.status).toBe(400)
    // A body whose job names a mask it does not carry: the photo's body with the job part replaced, re-signed.
    const photoJob = await job({ image: sha('photo') })
    const { body, contentType } = encodeBackendBody(photoJob, new Map([[sha('photo'), bytes('photo')]]))
    const masked = JSON.stringify(await job({ image: sha('photo'), mask: sha('mask'), strength: 1 }))
    const forged = new Uint8Array(
      Buffer.from(Buffer.from(body).toString('latin1').replace(JSON.stringify(photoJob), masked), 'latin1'),
    )
    const missing = await fetch(`${svc.url}/v1/generate`, {
      method: 'POST',
      body: forged,
      headers: { 'Content-Type': contentType, Accept: 'image/*', ...(await signRequest(SECRET, forged)) },
    })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ errors: [{ path: 'inputs' }] })
    const v2 = await post(await job({ image: sha('photo'), model: 'wuerstchen-v2' }), ['photo'])
    expect(v2.status).toBe(503) // not served here: the edge would try another backend
  })
})
