// onnxruntime-node sessions: CUDA when present, CPU otherwise (ORT does not fall back by itself), and runs with
// float32 host data whatever float type each graph input declares (fp16 graphs keep some inputs in float32).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import ort from 'onnxruntime-node'
import { f16ToF32, toFloat16Bits } from '../compiler/weights/dtype.ts'

export type Feeds = Record<string, ort.Tensor>

export interface SessionOptions {
  /** Try CUDA first; a failed CUDA start falls back to the CPU provider. */
  preferCuda?: boolean
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

/**
 * onnxruntime-node ships its CUDA provider as a separate library, downloaded at install time unless skipped (as
 * here in CI). Without it, asking for CUDA only logs native errors; check the file instead of trying.
 */
function cudaProviderInstalled(): boolean {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'))
  const lib =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'
  return existsSync(join(pkg, 'bin', 'napi-v6', process.platform, process.arch, lib))
}

let cudaState: 'unknown' | 'usable' | 'missing' = 'unknown'

function cudaUnavailable(why: string): void {
  if (cudaState !== 'missing') console.warn(`[onnxruntime] CUDA unavailable (${why}): running on the CPU`)
  cudaState = 'missing'
}

export async function createSession(
  model: string | Uint8Array,
  opts: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.optimization ?? 'all',
    enableMemPattern: opts.memPattern ?? false,
    ...(opts.spinAfterRun ? {} : { extra: { session: { force_spinning_stop: '1' } } }),
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
  }
  const create = (providers: string[]) =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
      : ort.InferenceSession.create(model, { ...base, executionProviders: providers })
  if (opts.preferCuda && cudaState === 'unknown' && !cudaProviderInstalled())
    cudaUnavailable('onnxruntime-node was installed without its CUDA provider')
  if (opts.preferCuda && cudaState !== 'missing') {
    try {
      const session = remember(await create(['cuda']), 'cuda')
      cudaState = 'usable'
      return session
    } catch (err) {
      // The provider is installed but cannot start (no device, driver or CUDA libraries): the CPU it is.
      cudaUnavailable((err as Error).message.split('\n')[0] ?? 'session creation failed')
    }
  }
  return remember(await create(['cpu']), 'cpu')
}

export type Provider = 'cuda' | 'cpu'

const providers = new WeakMap<ort.InferenceSession, Provider>()

function remember(s: ort.InferenceSession, provider: Provider): ort.InferenceSession {
  providers.set(s, provider)
  return s
}

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
  const types = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : undefined]))
  const tensors: Record<string, ort.Tensor> = {}
  for (const [name, f] of Object.entries(feeds))
    tensors[name] = isTensor(f)
      ? f
      : types.get(name) === 'float16'
        ? new ort.Tensor('float16', toFloat16Bits(f.data), f.dims)
        : floatTensor(f.data, f.dims)
  const out = await session.run(tensors)
  const result: Record<string, FloatData> = {}
  for (const [name, t] of Object.entries(out)) {
    const dims = t.dims.map(Number)
    if (t.type === 'float32') result[name] = { data: t.data as Float32Array, dims }
    else if (t.type === 'float16')
      result[name] = {
        data:
          t.data instanceof Uint16Array
            ? Float32Array.from(t.data, f16ToF32)
            : Float32Array.from(t.data as ArrayLike<number>),
        dims,
      }
  }
  return result
}

const isTensor = (f: FloatData | ort.Tensor): f is ort.Tensor => f instanceof ort.Tensor

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims)
}

export { ort }
