// One diffusion stage: the sampling loop around a stage graph, with classifier-free guidance batched as
// [cond, uncond] (the references' order) and applied per group of images.
import { type ort, runFloat32 } from '../runtime/session.ts'
import type { Sampler } from '../samplers/sampler.ts'
import type { NoiseSource } from './noise.ts'
import type { StagePreview } from './previews.ts'
import { concatBatch, type DiffusionStage, type HostTensor, numel, outputOf } from './tensor.ts'

export interface StageRun {
  stage: DiffusionStage
  session: ort.InferenceSession
  sampler: Sampler
  /** [B, C, h, w] of the latent. */
  shape: readonly number[]
  steps: number
  /**
   * The steps + 1 times to run, as diffusers' `timesteps=` takes them (or an img2img start below 1); default: the
   * sampler's `timesteps(steps)`.
   */
  timesteps?: Float32Array
  /** > 1 runs the unconditional batch too (api.md: ≤ 1 runs no unconditional pass). */
  guidance: number
  /** Sizes of the image groups guidance statistics span (Stable Cascade's CFG rescale uses the group's std). */
  groups: readonly number[]
  /** Inputs besides x and r, conditional batch; `uncond` is used only with guidance. */
  cond: Record<string, HostTensor>
  /** Inputs every model call takes as they are, whatever the batch (a tile graph's `tiling`). */
  feeds?: Record<string, ort.Tensor>
  uncond?: Record<string, HostTensor>
  noise: NoiseSource
  /** The stage's first draw when it was asked for earlier (else drawn here). */
  start?: Promise<Float32Array>
  signal?: AbortSignal
  onStep?: (step: number, steps: number) => void
  /** Live previews of the stage's output after each step (Stage C's x0̂), where wanted. */
  preview?: StagePreview
}

export const usesGuidance = (guidance: number) => guidance > 1

/** Lets pending I/O run (progress writes, new requests, disconnects) and honours an abort, between model calls. */
export async function checkpoint(signal?: AbortSignal): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  signal?.throwIfAborted()
}

/** The conditioning inputs of every model call: [cond; uncond] along the batch when guided. */
export function batchedConditioning(
  o: Pick<StageRun, 'cond' | 'uncond' | 'guidance'>,
): Record<string, HostTensor> {
  const guided = usesGuidance(o.guidance)
  return Object.fromEntries(
    Object.entries(o.cond).map(([name, t]) => [name, guided ? concatBatch(t, o.uncond?.[name] ?? t) : t]),
  )
}

/** The stage's times: the explicit list when given, else the sampler's schedule; steps + 1 of them. */
export function stageTimes(o: Pick<StageRun, 'stage' | 'steps' | 'sampler' | 'timesteps'>): Float32Array {
  const times = o.timesteps ?? o.sampler.timesteps(o.steps)
  if (times.length !== o.steps + 1)
    throw new Error(`stage ${o.stage}: ${times.length} timesteps for ${o.steps} steps (want steps + 1)`)
  return times
}

/** Runs the stage from its initial noise and returns its output (the sampler decides which tensor that is). */
export async function sampleStage(o: StageRun): Promise<HostTensor> {
  const batch = o.shape[0] as number
  const per = numel(o.shape.slice(1))
  const guided = usesGuidance(o.guidance)
  if (guided && !o.uncond) throw new Error(`stage ${o.stage}: guidance without unconditional inputs`)
  const condFeeds = batchedConditioning(o)
  const times = stageTimes(o)
  let x = await (o.start ?? o.noise.draw(o.stage, 0, o.shape))
  let output = x
  for (let i = 0; i < o.steps; i++) {
    await checkpoint(o.signal)
    // Asked for before the model call, so a source on another thread computes it meanwhile.
    const noise = Promise.resolve(o.noise.draw(o.stage, i + 1, o.shape))
    noise.catch(() => {}) // a failed model call leaves it unawaited; its own failure surfaces at the await below

    const t = times[i] as number
    const rows = guided ? 2 * batch : batch
    const xt: HostTensor = { data: x, dims: [...o.shape] }
    const out = await runFloat32(o.session, {
      ...condFeeds,
      ...o.feeds,
      x: guided ? concatBatch(xt, xt) : xt,
      r: { data: new Float32Array(rows).fill(o.sampler.modelInput(t)), dims: [rows] },
    })
    const eps = outputOf(out, 'eps').data
    const pred = guided ? guide(o.sampler, eps, batch * per, per, o.groups, o.guidance) : eps
    const next = o.sampler.step(pred, t, times[i + 1] as number, x, await noise)
    x = next.x
    output = next.output
    if (o.preview?.wants(i + 1, o.steps))
      await o.preview.show(i + 1, o.steps, { data: output, dims: [...o.shape] })
    o.onStep?.(i + 1, o.steps)
  }
  return { data: output, dims: [...o.shape] }
}

/** Guidance of a [cond; uncond] prediction, group by group. */
function guide(
  sampler: Sampler,
  eps: Float32Array,
  half: number,
  per: number,
  groups: readonly number[],
  scale: number,
): Float32Array {
  const pred = new Float32Array(half)
  let at = 0
  for (const n of groups) {
    const cond = eps.subarray(at * per, (at + n) * per)
    const uncond = eps.subarray(half + at * per, half + (at + n) * per)
    pred.set(sampler.guide(cond, uncond, scale), at * per)
    at += n
  }
  return pred
}
