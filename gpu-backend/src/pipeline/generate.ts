// The pipeline: Stage C (prior) -> Stage B (decoder) -> Stage A (VQGAN decode), in numbered phases like a
// diffusers pipeline's __call__, with image inputs (image-conditioning.ts) where a request has them: a variation's
// CLIP embedding, img2img's start latent (the official recipe: the EfficientNet latent noised with gdf.diffuse at
// t = strength, shift 1, then int(steps · strength) steps from t = strength), ControlNet outputs, the input's
// kept pixels composited back, and live previews of Stage C; a tiled image runs the tile graphs. Everything is
// validated before the first model call; an abort (AbortSignal) stops the work between two model calls.
import type { OutputFormat, TilingAxes } from '../../../shared/src/index.ts'
import { type ort, runFloat32 } from '../runtime/session.ts'
import { torchLinspace } from '../samplers/float32.ts'
import { gdfDiffuse } from '../samplers/gdf-ddpm.ts'
import { compositeKept } from './composite.ts'
import { encodeImage, toRgb8 } from './image.ts'
import {
  conditionImages,
  graphEncoders,
  type ImageConditioning,
  type ImageEncoders,
  ImageInputError,
  type ImageInputs,
  missingGraphs,
} from './image-conditioning.ts'
import { type LatentSizes, latentSizes } from './latents.ts'
import type { LoadedModel } from './model.ts'
import type { NoiseSource } from './noise.ts'
import { threadNoise } from './noise-thread.ts'
import { type PreviewOptions, stagePreview } from './previews.ts'
import { type StageRun, sampleStage, usesGuidance } from './sample.ts'
import { denoiseOnDevice } from './stages-on-device.ts'
import { type DiffusionStage, type HostTensor, outputOf, sliceBatch, zeros } from './tensor.ts'
import { stageConditioning, type TextEncoders, type TextStates } from './text.ts'
import { tilingFeed, tilingProblems } from './tiling.ts'

export interface ImageSpec {
  seed: number
  prompt: string
  negativePrompt: string
  /** Encode this image; without it only the tensors are returned. */
  format?: OutputFormat
  /** Image inputs (variation, img2img / inpainting start, ControlNet, compositing); none: text-to-image. */
  inputs?: ImageInputs
}

export interface GenerateRequest {
  width: number
  height: number
  /** One entry per image of the batch. */
  images: readonly ImageSpec[]
  priorSteps: number
  priorGuidance: number
  decoderSteps: number
  decoderGuidance: number
  /** Explicit times per stage (steps + 1 values in [0, 1], as diffusers' `timesteps=`); default: the sampler's. */
  priorTimesteps?: readonly number[]
  decoderTimesteps?: readonly number[]
  /** Seamless tiling: run the tile graphs, wrapping these image axes. */
  tiling?: TilingAxes
  /**
   * img2img and inpainting (every image has an `init`): Stage C starts at t = strength from the init latent noised
   * there, over int(priorSteps · strength) steps (or the explicit priorTimesteps).
   */
  strength?: number
  /**
   * Sizes of the groups of images that form one reference batch, in order (default: the whole batch). Stable
   * Cascade's CFG rescale takes its statistics over a group, so independent jobs batched together stay
   * identical to running alone when each is its own group.
   */
  groups?: readonly number[]
}

export type PipelineStage = 'text' | 'c' | 'b' | 'a' | 'encode'

export interface StepEvent {
  stage: PipelineStage
  step: number
  steps: number
}

export interface GenerateOptions {
  signal?: AbortSignal
  onStep?: (e: StepEvent) => void
  /** Default: Philox noise from each image's seed, computed on the noise thread. */
  noise?: NoiseSource
  /** Default: the model's text encoders. */
  text?: TextEncoders
  /** Default: the model's image graphs. */
  imageEncoders?: ImageEncoders
  /** Default: the family's sizes for width × height (models.md 7.4). */
  latents?: LatentSizes
  /** Live previews of Stage C (models with a previewer). */
  previews?: PreviewOptions
}

export type Timings = Record<'text' | 'image' | 'stage_c' | 'stage_b' | 'stage_a' | 'encode', number>

export interface GenerateResult extends Denoised {
  /** The images as encoded: Stage A's, with the kept pixels of the inputs composited back where asked. */
  images: HostTensor
  /** The encoded image of each request image that asked for a format (in request order, else undefined). */
  encoded: (Uint8Array | undefined)[]
  /** Milliseconds per phase. */
  timings: Timings
}

export class PipelineInputError extends Error {}

const PRIOR_CHANNELS = 16
const DECODER_CHANNELS = 4
/** The official img2img noises its start with GDF's default (unshifted) schedule, then samples with the stage's. */
const INIT_NOISE_SHIFT = 1

export async function generate(
  model: LoadedModel,
  req: GenerateRequest,
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  // 1. Validate.
  const batch = req.images.length
  const groups = req.groups ?? [batch]
  const sizes = opts.latents ?? latentSizes(model.manifest.family, req.width, req.height)
  const text = opts.text ?? model.text
  validate(model, req, groups, sizes, text)
  const missing = opts.imageEncoders
    ? []
    : missingGraphs(
        model.image,
        req.images.map((i) => i.inputs),
      )
  if (missing.length) throw new PipelineInputError(`${model.id}: the model has no ${missing.join(', ')}`)
  const priorRun = priorSchedule(req)
  // A tiled image runs the tile graphs, each fed the axes that wrap.
  const stages = req.tiling && model.tileStages ? await model.tileStages() : model.stages
  const feeds: Feeds = req.tiling ? { tiling: tilingFeed(req.tiling) } : {}
  const noise = opts.noise ?? threadNoise(req.images.map((i) => i.seed))
  const settings = model.manifest.settings
  const timings: Timings = { text: 0, image: 0, stage_c: 0, stage_b: 0, stage_a: 0, encode: 0 }
  const clock = (phase: keyof Timings, since: number) => {
    timings[phase] += performance.now() - since
  }
  // Both stages' starting noise depends on the seeds alone: asked for now, a noise thread computes it while the
  // text encoder and Stage C run.
  const shapes = { c: [batch, PRIOR_CHANNELS, ...sizes.c], b: [batch, DECODER_CHANNELS, ...sizes.b] }
  const start = { c: ask(noise, 'c', shapes.c), b: ask(noise, 'b', shapes.b) }
  const prompts = req.images.map((i) => i.prompt)
  const negatives = req.images.map((i) => i.negativePrompt)

  // 2. Encode the text: [prompts, negative prompts] per stage, the negatives only for a guided stage.
  const t0 = performance.now()
  const encode = async (stage: 'c' | 'b', guidance: number) => {
    const guided = usesGuidance(guidance)
    const states = await text.encode(stage, guided ? [...prompts, ...negatives] : prompts)
    return { cond: rows(states, 0, batch), uncond: guided ? rows(states, batch, 2 * batch) : undefined }
  }
  const textC = await encode('c', req.priorGuidance)
  const textB = await encode('b', req.decoderGuidance)
  clock('text', t0)
  opts.onStep?.({ stage: 'text', step: 1, steps: 1 })
  opts.signal?.throwIfAborted()

  // 3. Encode the input images: CLIP embeddings, start latents, ControlNet outputs.
  const t3 = performance.now()
  const image = await conditionInputs(model, req, sizes, opts.imageEncoders ?? graphEncoders(model.image))
  clock('image', t3)
  opts.signal?.throwIfAborted()

  // 4-6. Prior (Stage C); decoder (Stage B) conditioned on the prior's result (de-normalized for Würstchen v2),
  // unconditional effnet = zeros; decode (Stage A; the graph applies the family's latent scale). With the loop on
  // the device, the latents stay there and only the images come back.
  const feedsC = (states: TextStates, half: 'cond' | 'uncond') => ({
    ...stageConditioning(stages.c, settings.text.stage_c, states, batch),
    ...(half === 'cond' && image.clipImg ? { clip_img: image.clipImg } : {}),
    ...image.cnet,
  })
  const feedsB = (states: TextStates) => stageConditioning(stages.b, settings.text.stage_b, states, batch)
  const common = { groups, noise, feeds, ...(opts.signal ? { signal: opts.signal } : {}) }
  const runs: Record<DiffusionStage, StageRun> = {
    c: {
      ...common,
      stage: 'c',
      session: stages.c,
      sampler: model.samplers.c,
      shape: shapes.c,
      start: image.init ? noisedInit(image.init, start.c, req.strength as number) : start.c,
      ...priorRun,
      guidance: req.priorGuidance,
      cond: feedsC(textC.cond, 'cond'),
      uncond: textC.uncond && feedsC(textC.uncond, 'uncond'),
      onStep: (step, steps) => opts.onStep?.({ stage: 'c', step, steps }),
      ...(opts.previews && model.image.previewer
        ? { preview: stagePreview(model.image.previewer, opts.previews, model.device) }
        : {}),
    },
    b: {
      ...common,
      stage: 'b',
      session: stages.b,
      sampler: model.samplers.b,
      shape: shapes.b,
      start: start.b,
      steps: req.decoderSteps,
      ...(req.decoderTimesteps ? { timesteps: Float32Array.from(req.decoderTimesteps) } : {}),
      guidance: req.decoderGuidance,
      cond: feedsB(textB.cond),
      uncond: textB.uncond && feedsB(textB.uncond),
      onStep: (step, steps) => opts.onStep?.({ stage: 'b', step, steps }),
    },
  }
  const decode: DecodeRun = { session: stages.a, feeds }
  const { prior, decoder, decoded } = model.device
    ? await denoiseOnDevice(model, model.device, runs, decode, clock)
    : await denoiseOnHost(model, runs, decode, clock)
  opts.onStep?.({ stage: 'a', step: 1, steps: 1 })

  // 7. Put the inputs' kept pixels back (inpainting, outpainting).
  const images = await compositeKept(
    decoded,
    req.images.map((i) => i.inputs?.composite),
  )

  // 8. Encode the images, all at once: sharp encodes on libuv's thread pool, one image per thread.
  const t6 = performance.now()
  opts.signal?.throwIfAborted()
  let done = 0
  const encoded = await Promise.all(
    req.images.map(async (spec, i) => {
      if (!spec.format) return undefined
      const bytes = await encodeImage(toRgb8(images, i), spec.format, parameters(model, req, spec))
      opts.onStep?.({ stage: 'encode', step: ++done, steps: batch })
      return bytes
    }),
  )
  clock('encode', t6)
  return { prior, decoder, decoded, images, encoded, timings }
}

/** Stage C's steps and times: the request's, or img2img's int(steps · strength) from t = strength. */
function priorSchedule(req: GenerateRequest): { steps: number; timesteps?: Float32Array } {
  if (req.priorTimesteps)
    return { steps: req.priorTimesteps.length - 1, timesteps: Float32Array.from(req.priorTimesteps) }
  if (req.strength === undefined) return { steps: req.priorSteps }
  const steps = Math.trunc(req.priorSteps * req.strength)
  return { steps, timesteps: torchLinspace(req.strength, 0, steps + 1) }
}

/** The image inputs of the batch as Stage C's conditioning; a model without the graphs an input needs refuses. */
async function conditionInputs(
  model: LoadedModel,
  req: GenerateRequest,
  sizes: LatentSizes,
  encoders: ImageEncoders,
): Promise<ImageConditioning> {
  if (req.images.every((i) => !i.inputs)) return { cnet: {} }
  try {
    return await conditionImages(
      encoders,
      req.images.map((i) => i.inputs),
      sizes.c,
    )
  } catch (err) {
    if (err instanceof ImageInputError) throw new PipelineInputError(`${model.id}: ${err.message}`)
    throw err
  }
}

/** x_init = gdf.diffuse(latent, ε, t = strength) with the stage's first noise draw as ε. */
async function noisedInit(
  latent: HostTensor,
  eps: Promise<Float32Array>,
  strength: number,
): Promise<Float32Array> {
  return gdfDiffuse(latent.data, await eps, strength, INIT_NOISE_SHIFT)
}

/** What made the image, for the PNG's text chunks. */
function parameters(model: LoadedModel, req: GenerateRequest, image: ImageSpec): Record<string, string> {
  return {
    ...(req.strength !== undefined ? { strength: String(req.strength) } : {}),
    prompt: image.prompt,
    negative_prompt: image.negativePrompt,
    seed: String(image.seed),
    model: model.id,
    model_version: model.manifest.weights_version,
    size: `${req.width}x${req.height}`,
    prior_steps: String(req.priorSteps),
    prior_guidance: String(req.priorGuidance),
    decoder_steps: String(req.decoderSteps),
    decoder_guidance: String(req.decoderGuidance),
    ...(req.tiling ? { tiling: req.tiling } : {}),
    Software: 'cascade-edge',
  }
}

/** The first draw of a stage, its failure left to whoever awaits it (an earlier failure must not go unhandled). */
function ask(noise: NoiseSource, stage: DiffusionStage, shape: readonly number[]): Promise<Float32Array> {
  const p = Promise.resolve(noise.draw(stage, 0, shape))
  p.catch(() => {})
  return p
}

function rows(states: TextStates, start: number, end: number): TextStates {
  return Object.fromEntries(Object.entries(states).map(([k, t]) => [k, sliceBatch(t, start, end)]))
}

export type PhaseClock = (phase: keyof Timings, since: number) => void

/** Graph inputs every call of a stage takes as they are (a tile graph's `tiling`). */
export type Feeds = Record<string, ort.Tensor>

/** Stage A's decoder and what it takes besides the latent. */
export interface DecodeRun {
  session: ort.InferenceSession
  feeds: Feeds
}

export interface Denoised {
  /** The prior's output (before any de-normalization), the decoder's latent, Stage A's images before the clamp. */
  prior: HostTensor
  decoder: HostTensor
  decoded: HostTensor
}

/** Stages C, B and A with the sampling loops on the host (sample.ts). */
async function denoiseOnHost(
  model: LoadedModel,
  runs: Record<DiffusionStage, StageRun>,
  decode: DecodeRun,
  clock: PhaseClock,
): Promise<Denoised> {
  let t0 = performance.now()
  const prior = await sampleStage(runs.c)
  clock('stage_c', t0)
  t0 = performance.now()
  const effnet = denormalize(prior, model.manifest.settings.prior_denormalize)
  const b = runs.b
  const decoder = await sampleStage({
    ...b,
    cond: { ...b.cond, effnet },
    uncond: b.uncond && { ...b.uncond, effnet: zeros(effnet.dims) },
  })
  clock('stage_b', t0)
  b.signal?.throwIfAborted()
  t0 = performance.now()
  const decoded = outputOf(await runFloat32(decode.session, { ...decode.feeds, latent: decoder }), 'image')
  clock('stage_a', t0)
  return { prior, decoder, decoded }
}

/** Würstchen v2: Stage B takes the prior's latent · mean − std (float32, as diffusers computes it). */
function denormalize(prior: HostTensor, d: { mean: number; std: number } | undefined): HostTensor {
  if (!d) return prior
  const mean = Math.fround(d.mean)
  const std = Math.fround(d.std)
  return { data: prior.data.map((v) => Math.fround(v * mean) - std), dims: prior.dims }
}

function validate(
  model: LoadedModel,
  req: GenerateRequest,
  groups: readonly number[],
  sizes: LatentSizes,
  text: TextEncoders | undefined,
): asserts text is TextEncoders {
  const problems: string[] = []
  const posInt = (v: number) => Number.isInteger(v) && v > 0
  if (!req.images.length) problems.push('no images requested')
  for (const [name, v] of [
    ['width', req.width],
    ['height', req.height],
    ['priorSteps', req.priorSteps],
    ['decoderSteps', req.decoderSteps],
  ] as const)
    if (!posInt(v)) problems.push(`${name} must be a positive integer, got ${v}`)
  for (const [name, v] of [
    ['priorGuidance', req.priorGuidance],
    ['decoderGuidance', req.decoderGuidance],
  ] as const)
    if (!(Number.isFinite(v) && v >= 0)) problems.push(`${name} must be a finite number ≥ 0, got ${v}`)
  for (const [name, times, steps] of [
    ['priorTimesteps', req.priorTimesteps, req.priorSteps],
    ['decoderTimesteps', req.decoderTimesteps, req.decoderSteps],
  ] as const)
    if (times && (times.length !== steps + 1 || !times.every((t) => t >= 0 && t <= 1)))
      problems.push(`${name} must be ${steps + 1} times in [0, 1] (steps + 1), got [${times}]`)
  for (const img of req.images)
    if (!(Number.isInteger(img.seed) && img.seed >= 0 && img.seed < 2 ** 32))
      problems.push(`seed ${img.seed} is not a 32-bit unsigned integer`)
  const inits = req.images.filter((i) => i.inputs?.init).length
  if (req.strength !== undefined) {
    if (!(req.strength > 0 && req.strength <= 1))
      problems.push(`strength must be in (0, 1], got ${req.strength}`)
    else if (!req.priorTimesteps && Math.trunc(req.priorSteps * req.strength) < 1)
      problems.push(`strength ${req.strength} of ${req.priorSteps} prior steps runs no step`)
    if (inits !== req.images.length)
      problems.push('strength needs an init image for every image of the batch')
  } else if (inits) problems.push('init images need a strength')
  if (!groups.every(posInt) || groups.reduce((a, b) => a + b, 0) !== req.images.length)
    problems.push(`groups [${groups}] do not partition ${req.images.length} images`)
  if (![...sizes.c, ...sizes.b].every(posInt))
    problems.push(`latent sizes ${JSON.stringify(sizes)} are not positive`)
  // Stage B unshuffles its latent by 2.
  if (sizes.b.some((v) => v % 2)) problems.push(`Stage B latent ${sizes.b.join('×')} must have even sides`)
  if (!text) problems.push('the model has no text encoder and no text states were given')
  if (req.tiling && !model.tileStages)
    problems.push(`tiling: ${model.dir} has no tile graphs (convert it with --tiling)`)
  else if (req.tiling) problems.push(...tilingProblems(model.manifest, sizes, req.tiling))
  if (req.tiling && req.images.some((i) => i.inputs))
    problems.push('tiling does not combine with image inputs (the tile graphs take no ControlNet inputs)')
  if (problems.length) throw new PipelineInputError(problems.join('; '))
}
