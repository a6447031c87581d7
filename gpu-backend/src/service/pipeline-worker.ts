// Worker thread that owns one model directory and runs the pipeline for it. onnxruntime-node's session.run
// blocks its thread for a whole model call, so running it here keeps the HTTP thread free to answer health
// checks, queue events, 503s and disconnects while the GPU (or CPU) works.
import { parentPort, workerData } from 'node:worker_threads'
import { generate } from '../pipeline/generate.ts'
import { encodePreview, toRgb8 } from '../pipeline/image.ts'
import { loadModel } from '../pipeline/model.ts'
import type { PreviewOptions } from '../pipeline/previews.ts'
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts'

const port = parentPort
if (!port) throw new Error('pipeline-worker.ts runs as a worker thread')
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer)

const init = workerData as WorkerInit
const runs = new Map<number, AbortController>()

try {
  const model = await loadModel(init.dir, {
    provider: init.provider,
    verifySha256: init.verifySha256,
    ...(init.intraOpThreads ? { intraOpThreads: init.intraOpThreads } : {}),
  })
  post({
    type: 'loaded',
    id: model.id,
    manifest: model.manifest,
    provider: model.provider.provider,
  })
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'cancel') {
      runs.get(m.run)?.abort(new Error(m.reason))
      return
    }
    const ctrl = new AbortController()
    runs.set(m.run, ctrl)
    // Previews are encoded off the pipeline's path (sharp's thread pool), in order, all sent before the result.
    let previews: Promise<void> = Promise.resolve()
    const interval = m.previewIntervalMs
    let last = Number.NEGATIVE_INFINITY
    const preview: PreviewOptions | undefined =
      interval === undefined
        ? undefined
        : {
            wants: () => {
              if (performance.now() - last < interval) return false
              last = performance.now()
              return true
            },
            onPreview: ({ step, steps, images }) => {
              const rows = Array.from({ length: images.dims[0] ?? 0 }, (_, i) => toRgb8(images, i))
              previews = previews.then(async () => {
                const encoded = await Promise.all(rows.map(encodePreview))
                post(
                  {
                    type: 'preview',
                    run: m.run,
                    preview: { step, steps, contentType: 'image/jpeg', images: encoded },
                  },
                  encoded.map((b) => b.buffer as ArrayBuffer),
                )
              })
            },
          }
    try {
      const res = await generate(model, m.request, {
        signal: ctrl.signal,
        onStep: (event) => post({ type: 'step', run: m.run, event }),
        ...(preview ? { previews: preview } : {}),
      })
      await previews
      const encoded = res.encoded.map((b) => b ?? new Uint8Array())
      post(
        { type: 'done', run: m.run, encoded, timings: res.timings },
        encoded.map((b) => b.buffer as ArrayBuffer),
      )
    } catch (err) {
      post({ type: 'failed', run: m.run, aborted: ctrl.signal.aborted, message: (err as Error).message })
    } finally {
      runs.delete(m.run)
    }
  })
} catch (err) {
  post({ type: 'load-failed', message: (err as Error).message })
}
