// Live previews: Stable Cascade's Previewer (SC modules/previewer.py) on Stage C's x0̂ of a step, (B, 16, h, w) ->
// RGB (B, 3, 8h, 8w), clamped to [0, 1]. Officially never part of sampling; here it runs only on the steps the
// caller wants (throttling), on the step's output where the loop keeps it: host data for the host loop, a
// device tensor for the device loop (cast there to a float16 previewer's input), its small picture coming back.
import { type FloatData, ort, runFloat32 } from '../runtime/session.ts'
import type { DeviceGraphs } from './device-graphs.ts'
import { inputType } from './sample-on-device.ts'
import { type HostTensor, outputOf } from './tensor.ts'

export interface PreviewEvent {
  step: number
  steps: number
  /** One picture per image of the batch: (B, 3, 8h, 8w) in [0, 1]. */
  images: HostTensor
}

export interface PreviewOptions {
  /** Asked before each Stage C step's preview is made, so a throttled step costs nothing. */
  wants(step: number, steps: number): boolean
  onPreview(e: PreviewEvent): void
}

/** What a sampling loop calls after a step (sample.ts, sample-on-device.ts). */
export interface StagePreview {
  wants(step: number, steps: number): boolean
  /** x0̂ of the step: host data, or a float32 tensor the device loop keeps on the device. */
  show(step: number, steps: number, x0: FloatData | ort.Tensor): Promise<void>
}

export function stagePreview(
  previewer: ort.InferenceSession,
  opts: PreviewOptions,
  graphs?: DeviceGraphs,
): StagePreview {
  const type = inputType(previewer, 'x')
  return {
    wants: (step, steps) => opts.wants(step, steps),
    async show(step, steps, x0) {
      let x = x0
      if (x instanceof ort.Tensor && x.type !== type) {
        if (!graphs)
          throw new Error(`previews: a ${x.type} tensor for a ${type} previewer without device graphs`)
        x = (await (await graphs.handoff({ zerosAfter: false, type })).run({ x })).y as ort.Tensor
      }
      try {
        const image = outputOf(await runFloat32(previewer, { x }), 'image')
        opts.onPreview({ step, steps, images: { data: image.data.map(clamp01), dims: image.dims } })
      } finally {
        if (x !== x0 && x instanceof ort.Tensor) x.dispose()
      }
    },
  }
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1)
