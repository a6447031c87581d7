// Seeded noise computed on a worker thread, so the sampling loop can ask for the next step's noise before a model
// call and find it ready after: onnxruntime-node's session.run blocks the calling thread (on a GPU, while the
// device works), and Philox on the host costs several milliseconds per draw at 1024² (bench/pipeline.ts). The
// values are exactly seededNoise's; only where they are computed differs.
import { Worker } from 'node:worker_threads'
import type { NoiseSource } from './noise.ts'
import type { DiffusionStage } from './tensor.ts'

export interface NoiseRequest {
  id: number
  seeds: readonly number[]
  stage: DiffusionStage
  draw: number
  shape: readonly number[]
}

export type NoiseReply = { id: number; data: Float32Array } | { id: number; error: string }

interface Waiting {
  resolve: (data: Float32Array) => void
  reject: (err: Error) => void
}

/** One thread per process, started on first use; it holds the process open only while a draw is pending. */
class NoiseThread {
  #next = 0
  readonly #waiting = new Map<number, Waiting>()
  readonly #worker: Worker

  constructor() {
    // The worker is TypeScript: tsx's loader compiles it, whichever way this process was started.
    this.#worker = new Worker(new URL('./noise-worker.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
    })
    this.#worker.unref()
    this.#worker.on('message', (m: NoiseReply) => {
      const w = this.#waiting.get(m.id)
      this.#settled(m.id)
      if ('data' in m) w?.resolve(m.data)
      else w?.reject(new Error(m.error))
    })
    const fail = (err: Error) => {
      if (thread === this) thread = undefined
      for (const [id, w] of this.#waiting) {
        this.#settled(id)
        w.reject(err)
      }
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`noise thread exited with code ${code}`)))
  }

  draw(req: Omit<NoiseRequest, 'id'>): Promise<Float32Array> {
    const id = this.#next++
    if (this.#waiting.size === 0) this.#worker.ref()
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      this.#worker.postMessage({ ...req, id } satisfies NoiseRequest)
    })
  }

  #settled(id: number): void {
    this.#waiting.delete(id)
    if (this.#waiting.size === 0) this.#worker.unref()
  }
}

let thread: NoiseThread | undefined

/** seededNoise(seeds), each draw computed on the shared noise thread. */
export function threadNoise(seeds: readonly number[]): NoiseSource {
  return {
    draw(stage, draw, shape) {
      thread ??= new NoiseThread()
      return thread.draw({ seeds, stage, draw, shape })
    },
  }
}
