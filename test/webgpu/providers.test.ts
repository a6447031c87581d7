// Provider selection with a WebGPU adapter present (SwiftShader) and no CUDA provider library (CI installs
// onnxruntime-node without it): what `auto` picks, float16 reported as unsupported rather than skipped, the check
// command, and the service reporting its provider on /readyz, /metrics and Server-Timing over real HTTP.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import { probeProviders, selectProvider } from '../../gpu-backend/src/runtime/providers.ts'
import { type RunningService, startService } from '../../gpu-backend/src/service/server.ts'
import { backendJob } from '../../gpu-backend/test/backend-job.ts'
import { signRequest } from '../../shared/src/index.ts'
import { ROOT } from '../support/processes.ts'
import { tinyModel } from './tiny-models.ts'

describe('provider probes', () => {
  it('WebGPU runs float32 graphs but not float16 ones on this adapter; CUDA is not installed', async () => {
    const probes = Object.fromEntries((await probeProviders()).map((p) => [p.provider, p]))
    expect(probes.webgpu).toMatchObject({ usable: true, fp16: false })
    expect(probes.webgpu?.detail).toMatch(/f16/)
    expect(probes.cuda).toMatchObject({ usable: false, fp16: false })
    expect(probes.cuda?.detail).toMatch(/libonnxruntime_providers_cuda\.so is missing/)
    expect(probes.cpu).toMatchObject({ usable: true, fp16: true })
  })

  it('auto falls back from CUDA to WebGPU, with a warning; a named provider is honoured', async () => {
    const warnings: string[] = []
    expect((await selectProvider('auto', (m) => warnings.push(m))).provider).toBe('webgpu')
    expect(warnings).toEqual([
      expect.stringMatching(/^\[onnxruntime\] cuda unavailable \(.*\): trying webgpu$/),
    ])
    expect((await selectProvider('cpu', (m) => warnings.push(m))).provider).toBe('cpu')
    expect((await selectProvider('cuda', (m) => warnings.push(m))).provider).toBe('cpu')
    expect(warnings.at(-1)).toMatch(/cuda unavailable .*: trying cpu/)
  })

  it('a float16 model on WebGPU without shader-f16 is a clear error, not a silent skip', async () => {
    const dir = await tinyModel('stable-cascade', 'fp16')
    await expect(loadModel(dir, { provider: 'webgpu' })).rejects.toThrow(
      /float16 graphs do not run on the webgpu provider here \(float16 graphs do not run: .*f16.*\); use a float32 model/,
    )
    // The CPU runs float16 graphs.
    expect((await loadModel(dir, { provider: 'cpu' })).manifest.dtype).toBe('fp16')
  })

  it('cascade providers says which providers run here and why not', () => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'gpu-backend/bin/cascade.mjs'), 'providers', '--json'],
      {
        encoding: 'utf8',
      },
    )
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.auto).toBe('webgpu')
    expect(
      out.providers.map((p: { provider: string; usable: boolean; fp16: boolean }) => [
        p.provider,
        p.usable,
        p.fp16,
      ]),
    ).toEqual([
      ['cuda', false, false],
      ['webgpu', true, false],
      ['cpu', true, true],
    ])
    const text = spawnSync(process.execPath, [join(ROOT, 'gpu-backend/bin/cascade.mjs'), 'providers'], {
      encoding: 'utf8',
    })
    expect(text.stdout).toMatch(/^webgpu +runs +fp16 no /m)
    expect(text.stdout).toMatch(/ORT_PROVIDER=auto runs on: webgpu/)
  })
})

describe('the service on WebGPU', () => {
  const SECRET = 'webgpu-test-secret'
  let svc: RunningService
  let version: string

  beforeAll(async () => {
    const dir = await tinyModel('wuerstchen-v2')
    version = (await loadModel(dir)).manifest.weights_version
    svc = await startService({
      port: 0,
      host: '127.0.0.1',
      secret: SECRET,
      modelDirs: [dir],
      queueDepth: 2,
      maxBatch: 2,
      batchWindowMs: 15,
      jobTimeoutMs: 300_000,
      provider: 'auto',
      verifySha256: false,
    })
    await svc.ready
  })
  afterAll(() => svc?.close())

  it('reports its provider on /readyz, /metrics and each image’s Server-Timing', async () => {
    const ready = (await (await fetch(`${svc.url}/readyz`)).json()) as { models: unknown[] }
    expect(ready.models).toMatchObject([
      {
        id: 'wuerstchen-v2',
        version,
        provider: 'webgpu',
        tiling: true,
        modes: ['text'],
        previews: false,
        capacity: { running: 0 },
      },
    ])
    const metrics = await (await fetch(`${svc.url}/metrics`)).text()
    expect(metrics).toContain('cascade_backend_info{model="wuerstchen-v2",provider="webgpu"} 1')
    // The warm-up's shape (the API's smallest size, one step per stage): its shaders are compiled already.
    const body = JSON.stringify(
      await backendJob({ model_version: version, width: 512, height: 512, prior_steps: 1, decoder_steps: 1 }),
    )
    const res = await fetch(`${svc.url}/v1/generate`, {
      method: 'POST',
      body,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'image/*',
        ...(await signRequest(SECRET, body, Date.now())),
      },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('image/png')
    expect(res.headers.get('Server-Timing')).toMatch(/stage_c;dur=[\d.]+.*provider;desc="webgpu"/)
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100)
  })
})
