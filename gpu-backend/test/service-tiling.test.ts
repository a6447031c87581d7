// A backend whose model directory has no tile graphs (converted without --tiling) says so on /readyz and answers a
// tiled job with a 400 that names the field, before anything runs; the same job untiled is served.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRequest } from '../../shared/src/index.ts'
import { convertModel } from '../src/compiler/convert.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { type RunningService, startService } from '../src/service/server.ts'
import { backendJob } from './backend-job.ts'

const SECRET = 'service-tiling-secret'
let svc: RunningService
let version: string

beforeAll(async () => {
  const tiny = mkdtempSync(join(tmpdir(), 'service-untiled-src-'))
  await makeTiny({ family: 'stable-cascade', outDir: tiny, seed: 3 })
  const dir = mkdtempSync(join(tmpdir(), 'service-untiled-'))
  version = (
    await convertModel({
      family: 'stable-cascade',
      from: join(tiny, 'checkpoints'),
      outDir: dir,
      variant: 'tiny',
    })
  ).weights_version
  svc = await startService({
    port: 0,
    host: '127.0.0.1',
    secret: SECRET,
    modelDirs: [dir],
    queueDepth: 2,
    maxBatch: 1,
    batchWindowMs: 0,
    jobTimeoutMs: 120_000,
    provider: 'cpu',
    verifySha256: false,
  })
  await svc.ready
})
afterAll(() => svc?.close())

async function post(over: Parameters<typeof backendJob>[0]): Promise<Response> {
  const text = JSON.stringify(await backendJob({ model: 'stable-cascade', decoder_guidance: 1.1, ...over }))
  return fetch(`${svc.url}/v1/generate`, {
    method: 'POST',
    body: text,
    headers: { 'Content-Type': 'application/json', Accept: 'image/*', ...(await signRequest(SECRET, text)) },
  })
}

describe('a model without tile graphs', () => {
  it('is not tiling on /readyz', async () => {
    const ready = (await (await fetch(`${svc.url}/readyz`)).json()) as { models: { tiling: boolean }[] }
    expect(ready.models.map((m) => m.tiling)).toEqual([false])
  })

  it('answers a tiled job 400 naming `tiling`, and serves it untiled', async () => {
    const res = await post({ model_version: version, tiling: 'x' })
    expect(res.status).toBe(400)
    expect(res.headers.get('Content-Type')).toBe('application/problem+json')
    const p = (await res.json()) as { code: string; errors: { path: string; message: string }[] }
    expect(p.code).toBe('invalid_request')
    expect(p.errors).toEqual([{ path: 'tiling', message: expect.stringMatching(/no tile graphs.*--tiling/) }])
    const metrics = await (await fetch(`${svc.url}/metrics`)).text()
    expect(metrics).not.toMatch(/cascade_images_generated_total\{model="stable-cascade"\} [1-9]/)
    expect((await post({ model_version: version })).status).toBe(200)
  })
})
