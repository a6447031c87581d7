// The reference sampling runs as pipeline calls: model directories compiled by `convertModel` from the golden tiny
// checkpoints, the references' text states and noise injected, and the recorded results to compare with. Used by
// the parity suite (pipeline.test.ts, CPU) and the WebGPU suite (test/webgpu).
// - Stable Cascade: sampling/pipeline.safetensors (CLIP -> Stage C -> Stage B -> Stage A).
// - Würstchen v2: sampling_prior + each sampling_decoder*.safetensors.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { convertModel } from '../../gpu-backend/src/compiler/convert.ts'
import { makeTiny } from '../../gpu-backend/src/compiler/make-tiny.ts'
import type { GenerateOptions, GenerateRequest } from '../../gpu-backend/src/pipeline/generate.ts'
import type { NoiseSource } from '../../gpu-backend/src/pipeline/noise.ts'
import type { DiffusionStage, HostTensor } from '../../gpu-backend/src/pipeline/tensor.ts'
import type { TextEncoders, TextStates } from '../../gpu-backend/src/pipeline/text.ts'
import { torchLinspace } from '../../gpu-backend/src/samplers/float32.ts'
import { GOLDEN_DIR, goldenPath, readCase, V2_DIR, v2RunInfo } from './golden.ts'

type Case = ReturnType<typeof readCase>

export interface GoldenRun {
  label: string
  /** The compiled model directory. */
  dir: Promise<string>
  request: GenerateRequest
  /** Text states and noise as recorded (text omitted: the model's own tokenizer and CLIP run). */
  options: GenerateOptions
  reference: { prior: Float32Array; decoder: Float32Array; image: Float32Array }
}

/** Row i of a stacked tensor, as a batch of one. */
function row(c: Case, name: string, i: number): HostTensor {
  const t = c.get(name)
  const per = t.data.length / (t.shape[0] as number)
  return { data: t.data.slice(i * per, (i + 1) * per), dims: [1, ...t.shape.slice(1)] }
}

/** Stand-in text encoders answering from tables (per stage: prompt -> one row per output). */
export function tableText(lookup: (stage: DiffusionStage, prompt: string) => TextStates): TextEncoders {
  return {
    async encode(stage, prompts) {
      const rows = prompts.map((p) => lookup(stage, p))
      const out: TextStates = {}
      for (const name of Object.keys(rows[0] ?? {})) {
        const parts = rows.map((r) => r[name] as HostTensor)
        const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0))
        parts.forEach((p, i) => {
          data.set(p.data, i * p.data.length)
        })
        out[name] = { data, dims: [parts.length, ...(parts[0] as HostTensor).dims.slice(1)] }
      }
      return out
    },
  }
}

/** The recorded draws: per stage, the initial latent then one tensor per step. */
export function recordedNoise(draws: Record<DiffusionStage, (k: number) => Float32Array>): NoiseSource {
  return {
    draw(stage, k, shape) {
      const d = draws[stage](k)
      const n = shape.reduce((a, b) => a * b, 1)
      if (d.length !== n)
        throw new Error(`recorded ${stage} draw ${k} has ${d.length} values, want [${shape}]`)
      return d
    },
  }
}

function link(target: string, path: string) {
  mkdirSync(join(path, '..'), { recursive: true })
  symlinkSync(target, path)
}

const scModels = new Map<boolean, Promise<string>>()

/**
 * The golden image set's checkpoints under their released names (image/README: the ControlNets' configs carry the
 * proj_blocks that fit the text-to-image set's tiny Stage C).
 */
function linkImageCheckpoints(src: string): void {
  const image = (...p: string[]) => goldenPath('image', ...p)
  for (const [name, stem] of [
    ['effnet_encoder', 'effnet_encoder'],
    ['previewer', 'previewer'],
  ] as const) {
    link(image('weights', `${stem}_tiny.safetensors`), join(src, `${name}.safetensors`))
    link(image('configs', `${stem}_tiny.json`), join(src, `${name}.json`))
  }
  link(image('weights', 'clip_vision_tiny.safetensors'), join(src, 'image_encoder', 'model.safetensors'))
  link(image('configs', 'clip_vision_tiny.json'), join(src, 'image_encoder', 'config.json'))
  for (const [type, stem] of [
    ['canny', 'controlnet_canny'],
    ['inpainting', 'controlnet_inpaint'],
  ] as const) {
    link(image('weights', `${stem}_tiny.safetensors`), join(src, 'controlnet', `${type}.safetensors`))
    link(image('configs', `${stem}_tiny.json`), join(src, 'controlnet', `${type}.json`))
  }
}

/**
 * Official-layout source folder (stage_{c,b,a} + configs, the golden CLIP and BPE; with `images`, also the golden
 * image checkpoints), compiled once each.
 */
export function scModelDir(images = false): Promise<string> {
  let model = scModels.get(images)
  if (!model) {
    model = buildScModel(images)
    scModels.set(images, model)
  }
  return model
}

async function buildScModel(images: boolean): Promise<string> {
  const src = mkdtempSync(join(tmpdir(), 'sc-src-'))
  if (images) linkImageCheckpoints(src)
  for (const s of ['c', 'b', 'a']) {
    link(goldenPath('weights', `stage_${s}_tiny.safetensors`), join(src, `stage_${s}.safetensors`))
    link(goldenPath('configs', `stage_${s}_tiny.json`), join(src, `stage_${s}.json`))
  }
  link(goldenPath('weights', 'clip_text_tiny.safetensors'), join(src, 'text_encoder.safetensors'))
  link(goldenPath('configs', 'clip_text_tiny.json'), join(src, 'text_encoder.json'))
  link(goldenPath('tokenizer'), join(src, 'tokenizer'))
  const dir = mkdtempSync(join(tmpdir(), 'sc-model-'))
  await convertModel({ family: 'stable-cascade', from: src, outDir: dir })
  return dir
}

/** A GDF stage that does not run from 1 to 0 (sampling.json t_start / t_end) gets its schedule explicitly. */
function gdfTimesteps(
  stage: 'prior' | 'decoder',
  s: { timesteps: number; t_start?: number; t_end?: number },
): { priorTimesteps?: number[]; decoderTimesteps?: number[] } {
  const [start = 1, end = 0] = [s.t_start, s.t_end]
  if (start === 1 && end === 0) return {}
  return { [`${stage}Timesteps`]: Array.from(torchLinspace(start, end, s.timesteps + 1)) }
}

export const SC_TEXT_SOURCES = ['recorded text states', 'prompts through our tokenizer and CLIP'] as const

/** Stable Cascade's chain (sampling/pipeline.safetensors), from recorded text states or from the prompts. */
export function scGoldenRun(textSource: (typeof SC_TEXT_SOURCES)[number]): GoldenRun & {
  /** Step counts, for the progress events. */
  steps: { c: number; b: number }
} {
  const settings = JSON.parse(readFileSync(join(GOLDEN_DIR, 'configs', 'sampling.json'), 'utf8'))
  const c = readCase(goldenPath('sampling', 'pipeline.safetensors'))
  const prompts: string[] = settings.prompts
  const sc = settings.stage_c
  const sb = settings.stage_b
  // The batch is the latent's; each prompt makes batch / prompts images (in order, as repeat_interleave).
  const batch = sc.shape[0] as number
  const perPrompt = batch / prompts.length
  if (!Number.isInteger(perPrompt))
    throw new Error(`${batch} images do not divide among ${prompts.length} prompts`)
  const imagePrompts = prompts.flatMap((p) => new Array<string>(perPrompt).fill(p))
  // The recorded text states: one row per prompt, or one per image.
  const condRows = c.get('cond.clip_text').shape[0] === prompts.length ? prompts : imagePrompts
  const states = (prefix: 'cond' | 'uncond', i: number): TextStates => {
    const pooled = row(c, `${prefix}.clip_text_pooled`, i)
    // As the text encoder answers: hidden_pre_norm (1, 77, C) and text_embeds (1, P).
    return {
      hidden_pre_norm: row(c, `${prefix}.clip_text`, i),
      text_embeds: { data: pooled.data, dims: [1, pooled.dims[2] as number] },
    }
  }
  const text = tableText((_, p) =>
    p === settings.uncond_prompt ? states('uncond', 0) : states('cond', condRows.indexOf(p)),
  )
  const noise = recordedNoise({
    c: (k) => (k === 0 ? c.get('c.x_init').data : row(c, 'c.noise', k - 1).data),
    b: (k) => (k === 0 ? c.get('b.x_init').data : row(c, 'b.noise', k - 1).data),
  })
  const [, , height, width] = c.get('a.image').shape as number[]
  return {
    label: `SC chain (${textSource})`,
    dir: scModelDir(),
    request: {
      width: width as number,
      height: height as number,
      images: imagePrompts.map((prompt, seed) => ({ seed, prompt, negativePrompt: settings.uncond_prompt })),
      priorSteps: sc.timesteps,
      priorGuidance: sc.cfg,
      decoderSteps: sb.timesteps,
      decoderGuidance: sb.cfg,
      ...gdfTimesteps('prior', sc),
      ...gdfTimesteps('decoder', sb),
    },
    options: {
      ...(textSource === 'recorded text states' ? { text } : {}),
      noise,
      latents: { c: sc.shape.slice(2), b: sb.shape.slice(2) },
    },
    reference: {
      prior: c.get('c.output').data,
      decoder: c.get('b.output').data,
      image: c.get('a.image').data,
    },
    steps: { c: sc.timesteps, b: sb.timesteps },
  }
}

let v2Model: Promise<string> | undefined

/** diffusers layout (prior/, decoder/, vqgan/ with config.json), make-tiny's text encoders of the right widths. */
function v2ModelDir(): Promise<string> {
  v2Model ??= (async () => {
    const src = mkdtempSync(join(tmpdir(), 'v2-src-'))
    for (const name of ['prior', 'decoder', 'vqgan']) {
      link(
        join(V2_DIR, `${name}_weights.safetensors`),
        join(src, name, 'diffusion_pytorch_model.safetensors'),
      )
      link(join(V2_DIR, 'configs', `${name}.json`), join(src, name, 'config.json'))
    }
    // The golden's text encoders are stand-in tables (injected below); a complete model directory still needs
    // text encoders of the right widths: make-tiny's random ones.
    const tiny = mkdtempSync(join(tmpdir(), 'v2-tiny-'))
    await makeTiny({ family: 'wuerstchen-v2', outDir: tiny })
    for (const f of ['text_encoder', 'text_encoder_2']) {
      link(join(tiny, 'checkpoints', `${f}.safetensors`), join(src, `${f}.safetensors`))
      link(join(tiny, 'checkpoints', `${f}.json`), join(src, `${f}.json`))
    }
    for (const f of ['tokenizer', 'tokenizer_2']) link(join(tiny, 'checkpoints', f), join(src, f))
    const dir = mkdtempSync(join(tmpdir(), 'v2-model-'))
    await convertModel({ family: 'wuerstchen-v2', from: src, outDir: dir })
    return dir
  })()
  return v2Model
}

/**
 * README "Full tiny sampling run": the prior on its prompts, then each decoder run on its prompt; prompts,
 * guidance and the row order of each prompt_table come from the manifest's `info` of each file.
 */
export function v2GoldenRuns(): GoldenRun[] {
  const decoderRuns = readdirSync(V2_DIR).filter((f) => /^sampling_decoder.*\.safetensors$/.test(f))
  return decoderRuns.map((file) => {
    const p = readCase(join(V2_DIR, 'sampling_prior.safetensors'))
    const d = readCase(join(V2_DIR, file))
    const priorInfo = v2RunInfo('sampling_prior.safetensors')
    const decoderInfo = v2RunInfo(file)
    const priorCall = priorInfo.pipeline_call
    const decoderCall = decoderInfo.pipeline_call
    // num_images_per_prompt repeats each prompt's text states (repeat_interleave): images in prompt order.
    const perPrompt = priorCall.num_images_per_prompt ?? 1
    const prompts = [priorCall.prompt].flat().flatMap((q) => new Array<string>(perPrompt).fill(q))
    // The decoder pipeline takes one prompt for every image (README quirks).
    const decoderPrompt = decoderInfo.pipeline_call.prompt as string
    const text = tableText((stage, prompt) =>
      stage === 'c'
        ? { last_hidden_state: row(p, 'prompt_table', priorInfo.prompt_table_rows.indexOf(prompt)) }
        : {
            last_hidden_state: row(
              d,
              'prompt_table',
              decoderInfo.prompt_table_rows.indexOf(prompt === '' ? '' : decoderPrompt),
            ),
          },
    )
    const draws = (c: Case) => (k: number) => c.get(k === 0 ? 'initial_noise' : `step${k - 1}.noise`).data
    // The prior's size sets both latents (the decoder's is int(prior latent · 10.67)), not the decoded image's.
    const [images, , imageHeight, imageWidth] = d.get('images').shape as number[]
    if (images !== prompts.length) throw new Error(`${file}: ${images} images for ${prompts.length} prompts`)
    return {
      label: `v2 prior + ${file}`,
      dir: v2ModelDir(),
      request: {
        width: priorCall.width ?? (imageWidth as number),
        height: priorCall.height ?? (imageHeight as number),
        images: prompts.map((prompt, seed) => ({ seed, prompt, negativePrompt: '' })),
        priorSteps: p.get('timesteps').data.length - 1,
        priorGuidance: priorCall.guidance_scale,
        decoderSteps: d.get('timesteps').data.length - 1,
        decoderGuidance: decoderCall.guidance_scale,
        ...(priorCall.timesteps ? { priorTimesteps: priorCall.timesteps } : {}),
        ...(decoderCall.timesteps ? { decoderTimesteps: decoderCall.timesteps } : {}),
      },
      options: { text, noise: recordedNoise({ c: draws(p), b: draws(d) }) },
      reference: {
        prior: p.get('final_latents').data,
        decoder: d.get('final_latents').data,
        image: d.get('vqgan_decoded').data,
      },
    }
  })
}
