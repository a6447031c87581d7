// Execution providers: which ones load on this host (`cascade providers`), and the one a process runs on
// (ORT_PROVIDER). onnxruntime does not fall back by itself: a session asked for CUDA without its libraries, or for
// WebGPU without an adapter, fails to start. So each provider is probed once with a tiny graph, float32 and float16
// (WebGPU runs float16 only where the adapter has shader-f16, and says so only when a run is attempted).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import ort from 'onnxruntime-node'
import { Graph, type GraphDtype } from '../compiler/onnx/graph.ts'

export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const
export type Provider = (typeof PROVIDERS)[number]
export const PROVIDER_CHOICES = ['auto', ...PROVIDERS] as const
export type ProviderChoice = (typeof PROVIDER_CHOICES)[number]

export interface ProviderProbe {
  provider: Provider
  /** A float32 graph ran on it. */
  usable: boolean
  /** A float16 graph ran on it too. */
  fp16: boolean
  /** Why not (or what limits it), in one line. */
  detail: string
}

/** onnxruntime-node's CUDA provider library: downloaded at install time unless skipped (as in CI). */
export function cudaProviderLibrary(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'))
  const lib =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch, lib)
}

/** y = x·W + b on a [1, 4] input: enough to start a provider and run its MatMul kernel. */
function probeGraph(dtype: GraphDtype): Uint8Array {
  const g = new Graph(`probe_${dtype}`, { dtype })
  const x = g.input('x', [1, 4])
  const w = g.constF(
    Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
    [4, 4],
  )
  g.output(g.op1('Add', [g.op1('MatMul', [x, w]), g.constF([1, 2, 3, 4], [4])]), 'y', [1, 4])
  return g.serialize()
}

async function runsOn(provider: Provider, dtype: GraphDtype): Promise<void> {
  const session = await ort.InferenceSession.create(probeGraph(dtype), { executionProviders: [provider] })
  try {
    const data = Float32Array.of(1, 1, 1, 1)
    const x =
      dtype === 'fp16'
        ? new ort.Tensor(
            'float16',
            Uint16Array.from(data, () => 0x3c00),
            [1, 4],
          )
        : new ort.Tensor('float32', data, [1, 4])
    await session.run({ x })
  } finally {
    await session.release()
  }
}

const firstLine = (err: unknown) => {
  const msg = (err as Error).message ?? String(err)
  // onnxruntime prefixes native errors with its source location.
  return (msg.split('\n')[0] ?? msg).replace(/^.*?\.(cc|h):\d+ [^ ]+ /, '').trim()
}

async function probe(provider: Provider): Promise<ProviderProbe> {
  if (provider === 'cuda' && !existsSync(cudaProviderLibrary()))
    return {
      provider,
      usable: false,
      fp16: false,
      detail: `onnxruntime-node was installed without its CUDA provider (${cudaProviderLibrary()} is missing)`,
    }
  try {
    await runsOn(provider, 'fp32')
  } catch (err) {
    return { provider, usable: false, fp16: false, detail: firstLine(err) }
  }
  try {
    await runsOn(provider, 'fp16')
    return { provider, usable: true, fp16: true, detail: 'float32 and float16 graphs run' }
  } catch (err) {
    return { provider, usable: true, fp16: false, detail: `float16 graphs do not run: ${firstLine(err)}` }
  }
}

const probes = new Map<Provider, Promise<ProviderProbe>>()

/** What each provider can do on this host (probed once per process). */
export function probeProvider(provider: Provider): Promise<ProviderProbe> {
  let p = probes.get(provider)
  if (!p) {
    p = probe(provider)
    probes.set(provider, p)
  }
  return p
}

export const probeProviders = () => Promise.all(PROVIDERS.map(probeProvider))

/**
 * The provider to run on: `auto` takes CUDA if its libraries load, else WebGPU if an adapter exists, else the CPU;
 * a named provider that does not start falls back to the CPU. Every fallback is warned about.
 */
export async function selectProvider(
  choice: ProviderChoice,
  warn: (msg: string) => void = (m) => console.warn(m),
): Promise<ProviderProbe> {
  const order: Provider[] = choice === 'auto' ? [...PROVIDERS] : choice === 'cpu' ? ['cpu'] : [choice, 'cpu']
  for (const [i, provider] of order.entries()) {
    const p = await probeProvider(provider)
    if (p.usable) return p
    warn(`[onnxruntime] ${provider} unavailable (${p.detail}): trying ${order[i + 1]}`)
  }
  throw new Error('no onnxruntime execution provider could run a graph')
}

export function parseProviderChoice(raw: string | undefined): ProviderChoice {
  const v = (raw ?? 'auto').trim().toLowerCase() || 'auto'
  if (!(PROVIDER_CHOICES as readonly string[]).includes(v))
    throw new Error(`ORT_PROVIDER must be one of ${PROVIDER_CHOICES.join(', ')}, got "${raw}"`)
  return v as ProviderChoice
}
