// Stages C, B and A with the sampling loops on the device (sample-on-device.ts): the prior's output is handed to
// Stage B and Stage B's to Stage A as device tensors; the images come back, and the two latents are copied down
// once Stage A has run (GenerateResult reports them).
import type { ort } from '../runtime/session.ts'
import { runFloat32 } from '../runtime/session.ts'
import type { DeviceGraphs } from './device-graphs.ts'
import type { DecodeRun, Denoised, PhaseClock } from './generate.ts'
import type { LoadedModel } from './model.ts'
import type { StageRun } from './sample.ts'
import { usesGuidance } from './sample.ts'
import { inputType, sampleStageOnDevice } from './sample-on-device.ts'
import { type DiffusionStage, type HostTensor, outputOf } from './tensor.ts'

export async function denoiseOnDevice(
  model: LoadedModel,
  graphs: DeviceGraphs,
  runs: Record<DiffusionStage, StageRun>,
  decode: DecodeRun,
  clock: PhaseClock,
): Promise<Denoised> {
  let t0 = performance.now()
  const prior = await sampleStageOnDevice({ ...runs.c, graphs })
  const kept: ort.Tensor[] = [prior]
  try {
    clock('stage_c', t0)
    t0 = performance.now()
    // Stage B's effnet for every model call: the de-normalized prior, then zeros for the unconditional half.
    const d = model.manifest.settings.prior_denormalize
    const toEffnet = await graphs.handoff({
      ...(d ? { affine: { scale: Math.fround(d.mean), shift: Math.fround(d.std) } } : {}),
      zerosAfter: usesGuidance(runs.b.guidance),
      type: inputType(runs.b.session, 'effnet'),
    })
    const effnet = (await toEffnet.run({ x: prior })).y as ort.Tensor
    kept.push(effnet)
    const decoder = await sampleStageOnDevice({ ...runs.b, graphs, deviceCond: { effnet } })
    kept.push(decoder)
    clock('stage_b', t0)
    runs.b.signal?.throwIfAborted()
    t0 = performance.now()
    const latentType = inputType(decode.session, 'latent')
    let latent = decoder
    if (latentType !== 'float32') {
      latent = (await (await graphs.handoff({ zerosAfter: false, type: latentType })).run({ x: decoder }))
        .y as ort.Tensor
      kept.push(latent)
    }
    const decoded = outputOf(await runFloat32(decode.session, { ...decode.feeds, latent }), 'image')
    clock('stage_a', t0)
    return { prior: await hostCopy(graphs, prior), decoder: await hostCopy(graphs, decoder), decoded }
  } finally {
    for (const t of kept) t.dispose()
  }
}

async function hostCopy(graphs: DeviceGraphs, t: ort.Tensor): Promise<HostTensor> {
  const host = await graphs.download(t)
  // A copy: disposing the device tensor (or, on the CPU, the tensor itself) must not take the data with it.
  return { data: (host.data as Float32Array).slice(), dims: host.dims.map(Number) }
}
