// Starts the backend: listen first (so /healthz answers while models load), then load every model
// directory, warm each up, and only then report ready.
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp, type ServiceState } from './app.ts'
import type { ServiceConfig } from './config.ts'
import { type ServiceMetrics, serviceMetrics } from './metrics.ts'
import { ModelWorker } from './model-worker.ts'
import { ModelScheduler } from './scheduler.ts'

export interface RunningService {
  /** http://host:port */
  url: string
  state: ServiceState
  metrics: ServiceMetrics
  /** Resolves when every model is loaded and warmed up; rejects if one fails. */
  ready: Promise<void>
  close(): Promise<void>
}

export interface StartOptions {
  log?: (line: string) => void
  /** SSE keep-alive interval. */
  keepAliveMs?: number
}

export async function startService(cfg: ServiceConfig, opts: StartOptions = {}): Promise<RunningService> {
  const log = opts.log ?? (() => {})
  const state: ServiceState = { ready: false, models: new Map() }
  const metrics = serviceMetrics()
  const app = createApp({
    secret: cfg.secret,
    state,
    metrics,
    ...(opts.keepAliveMs ? { keepAliveMs: opts.keepAliveMs } : {}),
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: cfg.port, hostname: cfg.host }, () => resolve(s))
    s.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const host = cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host
  log(`cascade backend listening on ${cfg.host}:${port}`)

  // One pipeline worker thread per model: onnxruntime blocks the thread it runs on for a whole model call.
  const workers: ModelWorker[] = []
  const ready = (async () => {
    for (const dir of cfg.modelDirs) {
      const t0 = performance.now()
      const model = await ModelWorker.start({
        dir,
        provider: cfg.provider,
        verifySha256: cfg.verifySha256,
        ...(cfg.intraOpThreads ? { intraOpThreads: cfg.intraOpThreads } : {}),
      })
      workers.push(model)
      if (state.models.has(model.id))
        throw new Error(`${dir}: model ${model.id} is already served from another directory`)
      const scheduler = new ModelScheduler(model, {
        depth: cfg.queueDepth,
        maxBatch: cfg.maxBatch,
        batchWindowMs: cfg.batchWindowMs,
        jobTimeoutMs: cfg.jobTimeoutMs,
        ...(cfg.previewIntervalMs !== undefined ? { previewIntervalMs: cfg.previewIntervalMs } : {}),
        metrics,
      })
      metrics.backendInfo.set({ model: model.id, provider: model.provider }, 1)
      await scheduler.warmUp()
      state.models.set(model.id, scheduler)
      log(
        `loaded ${model.id} (weights ${model.manifest.weights_version.slice(0, 12)}, ${model.provider}) from ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      )
    }
    state.ready = true
    log('ready')
  })().catch((err: unknown) => {
    // Not ready, and /readyz says why (the error names the file); the caller decides whether to stay up.
    state.failure = err instanceof Error ? err.message : String(err)
    throw err
  })

  return {
    url: `http://${host}:${port}`,
    state,
    metrics,
    ready,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
      await Promise.all(workers.map((w) => w.close()))
    },
  }
}
