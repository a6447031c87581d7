// The text-to-image pipeline: Stage C (prior) -> Stage B (decoder) -> Stage A (VQGAN decode), in numbered
// phases like a diffusers pipeline's __call__. Everything is validated before the first model call; an abort
// (AbortSignal) stops the work between two model calls.
import type { OutputFormat, TilingAxes } from '../../../shared/src/index.ts'
import { type ort, runFloat32 } from '../runtime/session.ts'
import { encodeImage, toRgb8 } from './image.ts'
import { type LatentSizes, latentSizes } from './latents.ts'
import type { LoadedModel } from './model.ts'
import type { NoiseSource } from './noise.ts'
import { threadNoise } from './noise-thread.ts'
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
  /** Default: the family's sizes for width × height (models.md 7.4). */
  latents?: LatentSizes
}

export type Timings = Record<'text' | 'stage_c' | 'stage_b' | 'stage_a' | 'encode', number>

export interface GenerateResult extends Denoised {
  /** The encoded image of each request image that asked for a format (in request order, else undefined). */
  encoded: (Uint8Array | undefined)[]
  /** Milliseconds per phase. */
  timings: Timings
}

export class PipelineInputError extends Error {}

const PRIOR_CHANNELS = 16
const DECODER_CHANNELS = 4

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
  // A tiled image runs the tile graphs, each fed the axes that wrap.
  const stages = req.tiling && model.tileStages ? await model.tileStages() : model.stages
  const feeds: Feeds = req.tiling ? { tiling: tilingFeed(req.tiling) } : {}
  const noise = opts.noise ?? threadNoise(req.images.map((i) => i.seed))
  const settings = model.manifest.settings
  const timings: Timings = { text: 0, stage_c: 0, stage_b: 0, stage_a: 0, encode: 0 }
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

  // 3-5. Prior (Stage C); decoder (Stage B) conditioned on the prior's result (de-normalized for Würstchen v2),
  // unconditional effnet = zeros; decode (Stage A; the graph applies the family's latent scale). With the loop on
  // the device, the latents stay there and only the images come back.
  const feedsC = (states: TextStates) => stageConditioning(stages.c, settings.text.stage_c, states, batch)
  const feedsB = (states: TextStates) => stageConditioning(stages.b, settings.text.stage_b, states, batch)
  const common = { groups, noise, feeds, ...(opts.signal ? { signal: opts.signal } : {}) }
  const runs: Record<DiffusionStage, StageRun> = {
    c: {
      ...common,
      stage: 'c',
      session: stages.c,
      sampler: model.samplers.c,
      shape: shapes.c,
      start: start.c,
      steps: req.priorSteps,
      ...(req.priorTimesteps ? { timesteps: Float32Array.from(req.priorTimesteps) } : {}),
      guidance: req.priorGuidance,
      cond: feedsC(textC.cond),
      uncond: textC.uncond && feedsC(textC.uncond),
      onStep: (step, steps) => opts.onStep?.({ stage: 'c', step, steps }),
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

  // 6. Encode the images, all at once: sharp encodes on libuv's thread pool, one image per thread.
  const t6 = performance.now()
  opts.signal?.throwIfAborted()
  let done = 0
  const encoded = await Promise.all(
    req.images.map(async (image, i) => {
      if (!image.format) return undefined
      const bytes = await encodeImage(toRgb8(decoded, i), image.format, parameters(model, req, image))
      opts.onStep?.({ stage: 'encode', step: ++done, steps: batch })
      return bytes
    }),
  )
  clock('encode', t6)
  return { prior, decoder, decoded, encoded, timings }
}

/** What made the image, for the PNG's text chunks. */
function parameters(model: LoadedModel, req: GenerateRequest, image: ImageSpec): Record<string, string> {
  return {
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
  if (problems.length) throw new PipelineInputError(problems.join('; '))
}
