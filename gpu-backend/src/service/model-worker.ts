// The service thread's handle on a pipeline worker: start it on a model directory, run batches on it, cancel
// them between steps. Each run's progress arrives as messages while the worker computes.
import { Worker } from 'node:worker_threads'
import type { ModelId } from '../../../shared/src/index.ts'
import type { Manifest } from '../compiler/manifest.ts'
import type { GenerateRequest, StepEvent, Timings } from '../pipeline/generate.ts'
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts'

/** One preview of a batch: each image's picture of Stage C's x0̂, encoded. */
export interface PreviewMessage {
  step: number
  steps: number
  contentType: string
  images: Uint8Array[]
}

export interface RunOptions {
  signal?: AbortSignal
  onStep?: (e: StepEvent) => void
  /** Previews of Stage C, at most one per interval (models with a previewer). */
  onPreview?: (p: PreviewMessage) => void
  previewIntervalMs?: number
}

export interface RunResult {
  encoded: Uint8Array[]
  timings: Timings
}

/** What the scheduler needs of a model: its identity and a way to run a batch. */
export interface PipelineRunner {
  readonly id: ModelId
  readonly manifest: Manifest
  /** The execution provider the model's sessions run on (cuda / webgpu / cpu). */
  readonly provider: string
  run(request: GenerateRequest, opts?: RunOptions): Promise<RunResult>
}

interface Pending {
  resolve: (r: RunResult) => void
  reject: (e: Error) => void
  onStep?: (e: StepEvent) => void
  onPreview?: (p: PreviewMessage) => void
  /** Settles (never rejects) when the run has ended either way. */
  settled: Promise<void>
}

export class ModelWorker implements PipelineRunner {
  #next = 0
  readonly #pending = new Map<number, Pending>()

  private constructor(
    private readonly worker: Worker,
    readonly id: ModelId,
    readonly manifest: Manifest,
    readonly provider: string,
  ) {
    worker.on('message', (m: FromWorker) => this.#receive(m))
    worker.on('error', (err) => this.#failAll(err))
    worker.on('exit', (code) => this.#failAll(new Error(`pipeline worker exited with code ${code}`)))
  }

  /** Starts a worker and resolves once it has loaded the model directory. */
  static start(init: WorkerInit): Promise<ModelWorker> {
    // The worker is TypeScript: tsx's loader compiles it, whichever way this process was started.
    const worker = new Worker(new URL('./pipeline-worker.ts', import.meta.url), {
      workerData: init,
      execArgv: ['--import', 'tsx'],
    })
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      worker.once('error', onError)
      worker.once('message', (m: FromWorker) => {
        worker.off('error', onError)
        if (m.type === 'loaded') resolve(new ModelWorker(worker, m.id, m.manifest, m.provider))
        else {
          void worker.terminate()
          reject(new Error(m.type === 'load-failed' ? m.message : `unexpected ${m.type} before load`))
        }
      })
    })
  }

  run(request: GenerateRequest, opts: RunOptions = {}): Promise<RunResult> {
    const run = this.#next++
    let settle!: () => void
    const settled = new Promise<void>((r) => {
      settle = r
    })
    return new Promise<RunResult>((resolve, reject) => {
      this.#pending.set(run, {
        resolve: (r) => {
          settle()
          resolve(r)
        },
        reject: (e) => {
          settle()
          reject(e)
        },
        settled,
        ...(opts.onStep ? { onStep: opts.onStep } : {}),
        ...(opts.onPreview ? { onPreview: opts.onPreview } : {}),
      })
      const cancel = () =>
        this.#send({ type: 'cancel', run, reason: String(opts.signal?.reason ?? 'canceled') })
      if (opts.signal?.aborted) cancel()
      else opts.signal?.addEventListener('abort', cancel, { once: true })
      this.#send({
        type: 'run',
        run,
        request,
        ...(opts.onPreview ? { previewIntervalMs: opts.previewIntervalMs ?? 0 } : {}),
      })
    })
  }

  /**
   * Cancels what is running, waits for it to stop at its next step boundary, then ends the thread. Terminating
   * a thread inside an onnxruntime call aborts the whole process, so the wait is not optional.
   */
  async close(): Promise<void> {
    const running = [...this.#pending.entries()].map(([run, p]) => {
      this.#send({ type: 'cancel', run, reason: 'the service is shutting down' })
      return p.settled
    })
    await Promise.all(running)
    await this.worker.terminate()
  }

  #send(m: ToWorker): void {
    this.worker.postMessage(m)
  }

  #receive(m: FromWorker): void {
    if (m.type === 'loaded' || m.type === 'load-failed') return
    const p = this.#pending.get(m.run)
    if (!p) return
    if (m.type === 'step') {
      p.onStep?.(m.event)
      return
    }
    if (m.type === 'preview') {
      p.onPreview?.(m.preview)
      return
    }
    this.#pending.delete(m.run)
    if (m.type === 'done') p.resolve({ encoded: m.encoded, timings: m.timings })
    else p.reject(Object.assign(new Error(m.message), { aborted: m.aborted }))
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err)
    this.#pending.clear()
  }
}
