// onnxruntime-node sessions: CUDA when present, CPU otherwise (ORT does not fall back by itself).
import ort from 'onnxruntime-node'

export type Feeds = Record<string, ort.Tensor>

export interface SessionOptions {
  /** Try CUDA first; a failed CUDA start falls back to the CPU provider. */
  preferCuda?: boolean
  intraOpThreads?: number
  optimization?: 'disabled' | 'basic' | 'extended' | 'all'
}

ort.env.logLevel = 'error'

export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.optimization ?? 'all',
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
  }
  const create = (providers: string[]) =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
      : ort.InferenceSession.create(model, { ...base, executionProviders: providers })
  if (opts.preferCuda) {
    try {
      return await create(['cuda'])
    } catch {
      // No CUDA provider library or device: run on CPU.
    }
  }
  return create(['cpu'])
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims)
}

export { ort }
