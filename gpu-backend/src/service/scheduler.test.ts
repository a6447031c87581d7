// The scheduler against a scripted model: which jobs share a run, when a run starts, and how a job ends early.
import { describe, expect, it } from 'vitest'
import type { Job } from '../../../shared/src/index.ts'
import { backendJob } from '../../test/backend-job.ts'
import type { Manifest } from '../compiler/manifest.ts'
import type { GenerateRequest } from '../pipeline/generate.ts'
import { serviceMetrics } from './metrics.ts'
import type { PipelineRunner, RunOptions, RunResult } from './model-worker.ts'
import { ModelScheduler, type SchedulerOptions } from './scheduler.ts'

/** A model whose runs last until `finish()` (or their abort), stepping once per `step()`. */
class ScriptedModel implements PipelineRunner {
  readonly id = 'wuerstchen-v2' as const
  readonly manifest = { weights_version: 'scripted' } as Manifest
  readonly provider = 'cpu'
  readonly runs: { request: GenerateRequest; opts: RunOptions; finish: () => void }[] = []

  run(request: GenerateRequest, opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const finish = () =>
        resolve({
          encoded: request.images.map((_, i) => new Uint8Array([i])),
          timings: { text: 0, image: 0, stage_c: 0, stage_b: 0, stage_a: 0, encode: 0 },
        })
      opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason))
      this.runs.push({ request, opts, finish })
    })
  }
}

const job = (seed: number, over: Partial<Job> = {}) =>
  backendJob({ model_version: 'scripted', prompt: `prompt ${seed}`, seed, ...over })

function scheduler(over: Partial<SchedulerOptions> = {}) {
  const model = new ScriptedModel()
  const metrics = serviceMetrics()
  const s = new ModelScheduler(model, {
    depth: 8,
    maxBatch: 4,
    batchWindowMs: 40,
    jobTimeoutMs: 60_000,
    metrics,
    ...over,
  })
  return { s, model, metrics }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))
const noEvents = () => {}

describe('ModelScheduler', () => {
  it('an idle model waits the batch window, so jobs arriving together share one run', async () => {
    const { s, model } = scheduler()
    const a = s.submit(await job(1), noEvents)
    await tick(5)
    const b = s.submit(await job(2), noEvents)
    const c = s.submit(await job(3, { width: 768 }), noEvents) // another shape: a run of its own
    await tick(80)
    expect(model.runs.map((r) => r.request.images.map((i) => i.seed))).toEqual([[1, 2]])
    model.runs[0]?.finish()
    expect((await a?.outcome)?.ok).toBe(true)
    expect((await b?.outcome)?.ok).toBe(true)
    await tick(80)
    expect(model.runs.map((r) => r.request.images.map((i) => i.seed))).toEqual([[1, 2], [3]])
    model.runs[1]?.finish()
    expect((await c?.outcome)?.ok).toBe(true)
  })

  it('tiled jobs run apart from untiled ones and from other axis modes, and the run wraps their axes', async () => {
    const { s, model } = scheduler({ batchWindowMs: 20 })
    for (const [seed, tiling] of [
      [1, 'xy'],
      [2, undefined],
      [3, 'xy'],
      [4, 'x'],
    ] as const)
      s.submit(await job(seed, tiling ? { tiling } : {}), noEvents)
    const runs = () => model.runs.map((r) => [r.request.tiling, r.request.images.map((i) => i.seed)])
    await tick(60)
    expect(runs()).toEqual([['xy', [1, 3]]])
    for (let i = 0; i < 3; i++) {
      model.runs[i]?.finish()
      await tick(60)
    }
    expect(runs()).toEqual([
      ['xy', [1, 3]],
      [undefined, [2]],
      ['x', [4]],
    ])
  })

  it('a full batch starts without waiting out the window', async () => {
    const { s, model } = scheduler({ batchWindowMs: 60_000, maxBatch: 2 })
    s.submit(await job(1), noEvents)
    s.submit(await job(2), noEvents)
    await tick(20)
    expect(model.runs).toHaveLength(1)
  })

  it('a job past its deadline fails with backend_timeout and its run is stopped', async () => {
    const { s, model, metrics } = scheduler({ batchWindowMs: 0, jobTimeoutMs: 100 })
    const t = s.submit(await job(1), noEvents)
    const outcome = await t?.outcome
    expect(outcome).toEqual({ ok: false, code: 'backend_timeout', detail: expect.stringContaining('100 ms') })
    expect(model.runs[0]?.opts.signal?.aborted).toBe(true)
    await tick(10)
    expect(metrics.running.get({ model: 'wuerstchen-v2' })).toBe(0)
  })

  it("a run stopped at its job's deadline frees the model for the next job", async () => {
    const { s, model, metrics } = scheduler({ batchWindowMs: 0, jobTimeoutMs: 150, maxBatch: 1 })
    const first = s.submit(await job(1), noEvents)
    await tick(100)
    const second = s.submit(await job(2), noEvents)
    await tick(80) // the first is past its deadline, the second (arrived later) not
    expect((await first?.outcome)?.ok).toBe(false)
    expect(model.runs).toHaveLength(2) // the second started once the first's run was stopped
    model.runs[1]?.finish()
    expect((await second?.outcome)?.ok).toBe(true)
    expect(metrics.queueDepth.get({ model: 'wuerstchen-v2' })).toBe(0)
  })

  it('a canceled job in a batch leaves the run to its batch-mates; the last one canceled stops it', async () => {
    const { s, model } = scheduler({ batchWindowMs: 60_000, maxBatch: 2 })
    const a = s.submit(await job(1), noEvents)
    const b = s.submit(await job(2), noEvents)
    await tick(10)
    const run = model.runs[0]
    a?.cancel()
    expect(await a?.outcome).toMatchObject({ ok: false, code: 'canceled' })
    expect(run?.opts.signal?.aborted).toBe(false)
    b?.cancel()
    expect(run?.opts.signal?.aborted).toBe(true)
  })

  it('reports its capacity: free slots reach 0 exactly when a new job is refused', async () => {
    const { s, model, metrics } = scheduler({ depth: 2, maxBatch: 1, batchWindowMs: 0 })
    const free = () => metrics.freeSlots.get({ model: 'wuerstchen-v2' })
    expect(s.capacity()).toMatchObject({ free_slots: 2, queue_depth: 0, running: 0 })
    expect(free()).toBe(2)
    s.submit(await job(1), noEvents)
    await tick(10)
    expect(s.capacity()).toMatchObject({ free_slots: 2, queue_depth: 0, running: 1 })
    s.submit(await job(2), noEvents)
    s.submit(await job(3), noEvents)
    expect(s.capacity()).toMatchObject({ free_slots: 0, queue_depth: 2, running: 1 })
    expect(s.capacity().retry_after_s).toBeGreaterThan(0)
    expect(free()).toBe(0)
    expect(s.submit(await job(4), noEvents)).toBeUndefined()
    model.runs[0]?.finish()
    await tick(10)
    expect(s.capacity()).toMatchObject({ free_slots: 1, queue_depth: 1, running: 1 })
    expect(free()).toBe(1)
  })

  it('counts each pipeline step once per run, whatever the batch size', async () => {
    const { s, model, metrics } = scheduler({ batchWindowMs: 60_000, maxBatch: 2 })
    s.submit(await job(1), noEvents)
    s.submit(await job(2), noEvents)
    await tick(10)
    const onStep = model.runs[0]?.opts.onStep
    onStep?.({ stage: 'c', step: 1, steps: 2 })
    onStep?.({ stage: 'c', step: 2, steps: 2 })
    onStep?.({ stage: 'encode', step: 1, steps: 2 })
    expect(metrics.steps.get({ model: 'wuerstchen-v2', stage: 'c' })).toBe(2)
  })

  it('batches image jobs of one strength, each with its own inputs; previews go to the jobs that asked', async () => {
    const { s, model } = scheduler({ batchWindowMs: 60_000, maxBatch: 2 })
    const image = { width: 16, height: 16, rgb8: new Uint8Array(16 * 16 * 3) }
    const other = { width: 16, height: 16, rgb8: new Uint8Array(16 * 16 * 3).fill(9) }
    const events: [number, string][] = []
    const on = (seed: number) => (e: { event: string }) => events.push([seed, e.event])
    s.submit(await job(1), on(1), { inputs: { inputs: { init: image }, strength: 0.5 }, previews: true })
    s.submit(await job(2), on(2), { inputs: { inputs: { init: other }, strength: 0.5 }, previews: false })
    s.submit(await job(3), on(3), { inputs: { inputs: { init: image }, strength: 0.8 } }) // another schedule
    s.submit(await job(4), on(4)) // text-to-image: no strength, a run of its own
    await tick(10)
    expect(model.runs).toHaveLength(1)
    const run = model.runs[0]
    expect(run?.request.strength).toBe(0.5)
    expect(run?.request.images.map((i) => i.seed)).toEqual([1, 2])
    expect(run?.request.images.map((i) => i.inputs?.init)).toEqual([image, other])
    expect(run?.opts.previewIntervalMs).toBeGreaterThan(0)
    run?.opts.onPreview?.({
      step: 1,
      steps: 2,
      contentType: 'image/jpeg',
      images: [Uint8Array.of(1), Uint8Array.of(2)],
    })
    expect(events.filter(([, e]) => e === 'preview')).toEqual([[1, 'preview']])
  })
})
