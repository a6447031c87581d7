// One diffusion stage with the loop on the device: each step is the model graph, then the sampler's step graph
// (samplers/step-graph.ts), the latents passed from one to the next as device tensors. Only each step's noise (from
// the seeded host source, so every provider makes the same image), `r` and the step's scalars go up; nothing comes
// down. On the CPU provider the same graphs run on host tensors, which is how the loop is tested against sample.ts.
import type { ElemType } from '../compiler/onnx/proto.ts'
import { floatTensor, ort, typedFeeds } from '../runtime/session.ts'
import { guidanceFeeds } from '../samplers/cfg.ts'
import type { DeviceGraphs } from './device-graphs.ts'
import { batchedConditioning, checkpoint, type StageRun, stageTimes, usesGuidance } from './sample.ts'

export interface DeviceStageRun extends StageRun {
  graphs: DeviceGraphs
  /** Conditioning inputs already on the device, complete for every model call (Stage B's effnet). */
  deviceCond?: Record<string, ort.Tensor>
}

function typeOf(meta: readonly ort.InferenceSession.ValueMetadata[], name: string): ElemType {
  const m = meta.find((v) => v.name === name)
  if (!m?.isTensor) throw new Error(`the graph has no tensor "${name}"`)
  return m.type as ElemType
}

export const inputType = (s: ort.InferenceSession, name: string) => typeOf(s.inputMetadata, name)
const outputType = (s: ort.InferenceSession, name: string) => typeOf(s.outputMetadata, name)

const vector = (v: Float32Array) => floatTensor(v, [v.length])

/** Runs the stage from its initial noise; returns its float32 output, left on the device. */
export async function sampleStageOnDevice(o: DeviceStageRun): Promise<ort.Tensor> {
  const guided = usesGuidance(o.guidance)
  if (guided && !o.uncond) throw new Error(`stage ${o.stage}: guidance without unconditional inputs`)
  const rows = (guided ? 2 : 1) * (o.shape[0] as number)
  const { start, step } = await o.graphs.sampler(o.stage, o.sampler, {
    guided,
    predType: outputType(o.session, 'eps'),
    modelXType: inputType(o.session, 'x'),
  })
  const uploaded = typedFeeds(o.session, batchedConditioning(o))
  for (const [name, t] of Object.entries(uploaded)) uploaded[name] = await o.graphs.upload(t)
  const cond = { ...uploaded, ...o.deviceCond, ...o.feeds }
  const guide = guided ? guidanceFeeds(o.guidance, o.groups) : undefined
  const guideFeeds = guide && {
    weight: vector(guide.weight),
    from_end: new ort.Tensor('bool', Uint8Array.of(guide.fromEnd ? 1 : 0), [1]),
    groups: floatTensor(guide.groups.data, guide.groups.dims),
  }
  const times = stageTimes(o)
  const first = await (o.start ?? o.noise.draw(o.stage, 0, o.shape))
  let state = await start.run({ x: floatTensor(first, o.shape) })
  let x = state.x_state as ort.Tensor
  let xModel = state.x_model as ort.Tensor
  let output: ort.Tensor | undefined
  try {
    for (let i = 0; i < o.steps; i++) {
      await checkpoint(o.signal)
      // Asked for before the model call, so a source on another thread computes it meanwhile.
      const noise = Promise.resolve(o.noise.draw(o.stage, i + 1, o.shape))
      noise.catch(() => {}) // a failed model call leaves it unawaited; its own failure surfaces at the await below
      const t = times[i] as number
      const r = { data: new Float32Array(rows).fill(o.sampler.modelInput(t)), dims: [rows] }
      const { eps } = await o.session.run({ ...cond, ...typedFeeds(o.session, { r }), x: xModel })
      state = await step.run({
        pred: eps as ort.Tensor,
        x,
        noise: floatTensor(await noise, o.shape),
        coef: vector(o.sampler.coefficients(t, times[i + 1] as number)),
        ...guideFeeds,
      })
      for (const old of [eps, x, xModel, output]) old?.dispose()
      x = state.x_next as ort.Tensor
      xModel = state.x_model as ort.Tensor
      output = state.output as ort.Tensor
      if (o.preview?.wants(i + 1, o.steps)) await o.preview.show(i + 1, o.steps, output)
      o.onStep?.(i + 1, o.steps)
    }
  } catch (err) {
    output?.dispose()
    throw err
  } finally {
    x.dispose()
    xModel.dispose()
    for (const t of Object.values(uploaded)) t.dispose()
  }
  // Zero steps: the stage returns its initial noise, as the host loop does.
  return output ?? (await o.graphs.upload(floatTensor(first, o.shape)))
}
