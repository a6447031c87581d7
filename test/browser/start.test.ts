// `npm start` itself (scripts/start.mjs, started by stack.ts from a clean state): it built the demo model, wired
// edge and backend with a secret of its own, answers a generation over HTTP, and SIGINT (Ctrl-C) stops every
// process it started, leaving nothing listening. Runs last in the suite (the config's sequencer): it ends the stack.
import { describe, expect, inject, it } from 'vitest'
import { signRequest } from '../../shared/src/index.ts'
import { alive, descendants, eventually, listening, pngSize } from './helpers.ts'

const stack = inject('stack')

describe('npm start', () => {
  it('builds the demo models on a clean checkout and flags them as random-weight demos, with their modes', async () => {
    expect(stack.startupLog).toMatch(/building the wuerstchen-v2 demo model/)
    expect(stack.startupLog).toMatch(/building the stable-cascade demo model/)
    const models = (await (await fetch(`${stack.url}/v1/models`)).json()) as {
      data: { id: string; demo: boolean; modes: string[]; previews: boolean }[]
    }
    expect(models.data).toEqual([
      expect.objectContaining({ id: 'wuerstchen-v2', demo: true, modes: ['text'], previews: false }),
      expect.objectContaining({
        id: 'stable-cascade',
        demo: true,
        modes: ['text', 'variation', 'img2img', 'inpainting', 'outpainting', 'canny'],
        previews: true,
      }),
    ])
  })

  it('answers POST /v1/images/generations over HTTP with a PNG', async () => {
    const res = await fetch(`${stack.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red tram in the rain', size: '512x512', seed: 3 }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { url: string; seed: number }[] }
    expect(body.data[0]?.seed).toBe(3)
    const img = await fetch(body.data[0]?.url as string)
    expect(pngSize(new Uint8Array(await img.arrayBuffer()))).toEqual({ width: 512, height: 512 })
  })

  it('simulates the jobs queue, and the pool metrics it prints answer: the backend ready, with free slots', async () => {
    expect(stack.startupLog).toMatch(/jobs queue\s+cascade-jobs/)
    const token = /pool metrics\s+curl -H 'Authorization: Bearer (\w+)'/.exec(stack.startupLog)?.[1]
    const res = await fetch(`${stack.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).toMatch(/^cascade_pool_backends_ready 1$/m)
    expect(Number(/^cascade_pool_free_slots (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0)
  })

  it('prefixes each child’s log lines', () => {
    expect(stack.startupLog).toMatch(/^\[backend\] /m)
    expect(stack.startupLog).toMatch(/^\[edge\] /m)
  })

  it('does not sign with the old fixed development secret: the backend refuses it', async () => {
    const body = JSON.stringify({})
    const headers = await signRequest('dev-only-insecure-backend-secret', body)
    const res = await fetch(`${stack.backendUrl}/v1/generate`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', Accept: 'image/*' },
      body,
    })
    expect(res.status).toBe(401)
  })

  it('stops the backend, the edge and everything under them on SIGINT (Ctrl-C)', async () => {
    const tree = descendants(stack.pid)
    expect(tree.length).toBeGreaterThanOrEqual(2) // backend, wrangler (and workerd under it)
    expect(await listening(stack.edgePort)).toBe(true)
    expect(await listening(stack.backendPort)).toBe(true)

    process.kill(stack.pid, 'SIGINT')
    await eventually(() => !alive(stack.pid), 'npm start to exit')
    expect(tree.filter(alive)).toEqual([])
    expect(await listening(stack.edgePort)).toBe(false)
    expect(await listening(stack.backendPort)).toBe(false)
  })
})
