// `cascade providers`: which execution providers run on this host and why not, so a GPU host can be checked
// before it serves (the CUDA provider needs onnxruntime-node's provider libraries, CUDA 12 and cuDNN 9; WebGPU a
// Vulkan driver and loader).
import { cudaProviderLibrary, probeProviders, selectProvider } from '../runtime/providers.ts'

export async function providersCommand(o: { json: boolean }): Promise<void> {
  const probes = await probeProviders()
  const auto = await selectProvider('auto', () => {})
  if (o.json) {
    console.log(JSON.stringify({ auto: auto.provider, providers: probes }, null, 2))
    return
  }
  for (const p of probes)
    console.log(
      `${p.provider.padEnd(7)} ${p.usable ? 'runs' : 'no  '}  fp16 ${p.fp16 ? 'yes' : 'no '}  ${p.detail}`,
    )
  console.log(`ORT_PROVIDER=auto runs on: ${auto.provider}`)
  if (!probes.find((p) => p.provider === 'cuda')?.usable)
    console.log(
      `CUDA needs onnxruntime-node's provider libraries next to ${cudaProviderLibrary()} (README: Backends, on GPU machines).`,
    )
}
