// onnxruntime-node sessions on the provider chosen by providers.ts, and runs with float32 host data whatever float
// type each graph input declares (fp16 graphs keep some inputs in float32).
import ort from 'onnxruntime-node'
import { f16ToF32, toFloat16Bits } from '../compiler/weights/dtype.ts'
import type { Provider } from './providers.ts'

export type Feeds = Record<string, ort.Tensor>

export interface SessionOptions {
  /** An execution provider that probed usable (providers.ts `selectProvider`); default the CPU. */
  provider?: Provider
  /**
   * Keep the outputs in device memory (WebGPU), to be fed to the next session without a copy to the host. Such a
   * tensor's data cannot be read from JavaScript: a download session (an output on the CPU) brings it back.
   */
  outputsOnDevice?: boolean
  intraOpThreads?: number
  optimization?: 'disabled' | 'basic' | 'extended' | 'all'
  /**
   * onnxruntime's memory pattern (one preplanned block per input shape). Off by default: on Stable Cascade lite's
   * Stage A at 1024² it doubles the memory a run adds, for no measurable speed (bench/: pipeline memory rows).
   */
  memPattern?: boolean
  /**
   * Let the intra-op threads spin on after a run ends (onnxruntime's default). Off by default: they still spin
   * between the parallel sections of a run, but no longer take the cores from the host's work between steps
   * and from the next run's own threads (bench/: pipeline spinning rows, 1.05x to 1.4x the wall time on 2 cores).
   */
  spinAfterRun?: boolean
}

ort.env.logLevel = 'error'

export async function createSession(
  model: string | Uint8Array,
  opts: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu'
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: opts.optimization ?? 'all',
    enableMemPattern: opts.memPattern ?? false,
    ...(opts.spinAfterRun ? {} : { extra: { session: { force_spinning_stop: '1' } } }),
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    ...(opts.outputsOnDevice && provider === 'webgpu'
      ? { preferredOutputLocation: 'gpu-buffer' as const }
      : {}),
  }
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options)
  providers.set(session, provider)
  return session
}

const providers = new WeakMap<ort.InferenceSession, Provider>()

/** The execution provider a session created here runs on. */
export function providerOf(session: ort.InferenceSession): Provider | undefined {
  return providers.get(session)
}

/** A float tensor on the host, always float32. */
export interface FloatData {
  data: Float32Array
  dims: number[]
}

/**
 * Runs `session` with float32 host data: each float feed is converted to the type its input declares
 * (float16 graphs), other tensors (int64 ids) pass as they are; float outputs come back as float32.
 */
export async function runFloat32(
  session: ort.InferenceSession,
  feeds: Record<string, FloatData | ort.Tensor>,
): Promise<Record<string, FloatData>> {
  const out = await session.run(typedFeeds(session, feeds))
  const result: Record<string, FloatData> = {}
  for (const [name, t] of Object.entries(out)) {
    const f = floatData(t)
    if (f) result[name] = f
  }
  return result
}

/** A float tensor's values as float32 (float16 widened; float32 shares the tensor's data); other types: undefined. */
export function floatData(t: ort.Tensor): FloatData | undefined {
  const dims = t.dims.map(Number)
  if (t.type === 'float32') return { data: t.data as Float32Array, dims }
  if (t.type !== 'float16') return undefined
  return {
    data:
      t.data instanceof Uint16Array
        ? Float32Array.from(t.data, f16ToF32)
        : Float32Array.from(t.data as ArrayLike<number>),
    dims,
  }
}

/** Each float32 host feed as the type its input declares (float16 graphs); tensors pass as they are. */
export function typedFeeds(
  session: ort.InferenceSession,
  feeds: Record<string, FloatData | ort.Tensor>,
): Record<string, ort.Tensor> {
  const types = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : undefined]))
  const tensors: Record<string, ort.Tensor> = {}
  for (const [name, f] of Object.entries(feeds))
    tensors[name] = isTensor(f)
      ? f
      : types.get(name) === 'float16'
        ? new ort.Tensor('float16', toFloat16Bits(f.data), f.dims)
        : floatTensor(f.data, f.dims)
  return tensors
}

const isTensor = (f: FloatData | ort.Tensor): f is ort.Tensor => f instanceof ort.Tensor

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims)
}

export { ort }
