// `cascade compare`: the same prompts and seeds through two model directories (fp32 against int8, or any two of
// one family), one model loaded at a time. It reports, per graph, the relative error of single forwards on
// identical inputs (inputs recorded from the first model's first image: each text encoder's first call, Stage C's
// and Stage B's first, middle and last step, Stage A), and per image PSNR and SSIM of the final images, the
// relative error of the Stage C latent and both wall times.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MODELS } from '../../../shared/src/index.ts'
import { runFloat32 } from '../runtime/session.ts'
import { type GenerateRequest, generate } from './generate.ts'
import { encodeImage, toRgb8 } from './image.ts'
import { psnr, type Rgb8, relL2, ssim } from './image-metrics.ts'
import {
  type LoadedModel,
  type LoadOptions,
  loadModel,
  modelSessions,
  readManifest,
  releaseModel,
} from './model.ts'
import { type CallRecorder, type RecordedCall, recordCalls } from './record-calls.ts'

export interface CompareOptions {
  /** The reference model first. */
  modelDirs: [string, string]
  prompts: readonly string[]
  seeds: readonly number[]
  width: number
  height: number
  negativePrompt?: string
  /** Default: the first model's defaults (shared/src/models.ts). */
  priorSteps?: number
  priorGuidance?: number
  decoderSteps?: number
  decoderGuidance?: number
  /** Write both images of every pair here (`<i>-a.png`, `<i>-b.png`). */
  saveDir?: string
  load?: LoadOptions
  /** Told of each phase as it starts, for progress output. */
  onPhase?: (what: string) => void
}

export interface ForwardError {
  graph: string
  /** Recorded calls replayed on the second model. */
  calls: number
  /** Relative L2 error of every output of every call: the largest and the mean. */
  max: number
  mean: number
}

export interface ImageComparison {
  prompt: string
  seed: number
  psnr: number
  ssim: number
  /** Relative L2 error of the second model's Stage C latent against the first's. */
  latent: number
  /** Wall time of each model's generation, in ms. */
  ms: [number, number]
}

export interface CompareReport {
  models: { dir: string; dtype: string; weightsVersion: string; randomWeights: boolean }[]
  request: Omit<GenerateRequest, 'images'>
  forwards: ForwardError[]
  images: ImageComparison[]
}

interface Generated {
  rgb: Rgb8
  latent: Float32Array
  ms: number
}

/** Which calls of each graph are recorded for a request: step calls at the start, the middle and the end. */
function pickedCalls(req: Omit<GenerateRequest, 'images'>): Record<string, (i: number) => boolean> {
  const spread = (steps: number) => (i: number) =>
    i === 0 || i === Math.floor((steps - 1) / 2) || i === steps - 1
  return {
    text_encoder: (i) => i === 0,
    text_encoder_2: (i) => i === 0,
    stage_c: spread(req.priorSteps),
    stage_b: spread(req.decoderSteps),
    stage_a_decoder: (i) => i === 0,
  }
}

async function generateAll(
  model: LoadedModel,
  o: CompareOptions,
  req: Omit<GenerateRequest, 'images'>,
  tag: string,
  record?: Record<string, (i: number) => boolean>,
): Promise<{ images: Generated[]; recorded: Record<string, RecordedCall[]> }> {
  const images: Generated[] = []
  const recorded: Record<string, RecordedCall[]> = {}
  let k = 0
  for (const prompt of o.prompts)
    for (const seed of o.seeds) {
      o.onPhase?.(`${tag}: image ${k + 1}/${o.prompts.length * o.seeds.length} (seed ${seed})`)
      // The first image's calls are the single-forward inputs.
      const recorders: [string, CallRecorder][] =
        record && k === 0
          ? Object.entries(modelSessions(model)).map(([name, s]) => [
              name,
              recordCalls(s, record[name] ?? (() => false)),
            ])
          : []
      const t0 = performance.now()
      const res = await generate(model, {
        ...req,
        images: [{ prompt, seed, negativePrompt: o.negativePrompt ?? '' }],
      }).finally(() => {
        for (const [, r] of recorders) r.stop()
      })
      const ms = performance.now() - t0
      for (const [name, r] of recorders) recorded[name] = r.calls
      const rgb = toRgb8(res.decoded, 0)
      if (o.saveDir) {
        mkdirSync(o.saveDir, { recursive: true })
        writeFileSync(
          join(o.saveDir, `${k}-${tag}.png`),
          await encodeImage(rgb, 'png', { prompt, seed: `${seed}` }),
        )
      }
      images.push({ rgb, latent: Float32Array.from(res.prior.data), ms })
      k++
    }
  return { images, recorded }
}

/** Each recorded call run through the other model's graph of the same name. */
async function replay(model: LoadedModel, recorded: Record<string, RecordedCall[]>): Promise<ForwardError[]> {
  const sessions = modelSessions(model)
  const errors: ForwardError[] = []
  for (const [graph, calls] of Object.entries(recorded)) {
    const session = sessions[graph]
    if (!session || !calls.length) continue
    const errs: number[] = []
    for (const call of calls) {
      const out = await runFloat32(session, call.feeds)
      for (const [name, ref] of Object.entries(call.outputs)) {
        const got = out[name]
        if (!got) throw new Error(`${model.dir}: ${graph} has no output ${name}`)
        errs.push(relL2(got.data, ref.data))
      }
    }
    errors.push({
      graph,
      calls: calls.length,
      max: Math.max(...errs),
      mean: errs.reduce((a, b) => a + b, 0) / errs.length,
    })
  }
  return errors
}

export async function compareModels(o: CompareOptions): Promise<CompareReport> {
  if (!o.prompts.length || !o.seeds.length) throw new Error('compare needs at least one prompt and one seed')
  const [fa, fb] = o.modelDirs.map((d) => readManifest(d).family)
  if (fa !== fb)
    throw new Error(`${o.modelDirs[1]} is ${fb}, ${o.modelDirs[0]} is ${fa}: compare needs one family`)
  const a = await loadModel(o.modelDirs[0], o.load)
  const d = MODELS[a.id].defaults
  const req = {
    width: o.width,
    height: o.height,
    priorSteps: o.priorSteps ?? d.prior_steps,
    priorGuidance: o.priorGuidance ?? d.prior_guidance,
    decoderSteps: o.decoderSteps ?? d.decoder_steps,
    decoderGuidance: o.decoderGuidance ?? d.decoder_guidance,
  }
  const ref = await generateAll(a, o, req, 'a', pickedCalls(req)).finally(() => releaseModel(a))
  const b = await loadModel(o.modelDirs[1], o.load)
  try {
    o.onPhase?.('b: single forwards on the recorded inputs')
    const forwards = await replay(b, ref.recorded)
    const other = await generateAll(b, o, req, 'b')
    const images = ref.images.map((r, k): ImageComparison => {
      const g = other.images[k] as Generated
      return {
        prompt: o.prompts[Math.floor(k / o.seeds.length)] as string,
        seed: o.seeds[k % o.seeds.length] as number,
        psnr: psnr(g.rgb, r.rgb),
        ssim: ssim(r.rgb, g.rgb),
        latent: relL2(g.latent, r.latent),
        ms: [r.ms, g.ms],
      }
    })
    return {
      models: [a, b].map((m) => ({
        dir: m.dir,
        dtype: m.manifest.dtype,
        weightsVersion: m.manifest.weights_version,
        randomWeights: m.manifest.random_weights ?? false,
      })),
      request: req,
      forwards,
      images,
    }
  } finally {
    await releaseModel(b)
  }
}
