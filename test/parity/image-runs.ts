// The golden image set's runs for the pipeline suites (parity: test/parity/image-modes.test.ts, WebGPU:
// test/webgpu/generate.test.ts): the official img2img run (golden image/img2img_sampling) as a pipeline request
// with the recorded text states, noise and image latent injected, and the helpers the mode runs share.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { GenerateOptions, GenerateRequest } from '../../gpu-backend/src/pipeline/generate.ts'
import type { ImageEncoders } from '../../gpu-backend/src/pipeline/image-conditioning.ts'
import type { InputImage } from '../../gpu-backend/src/pipeline/inputs.ts'
import type { NoiseSource } from '../../gpu-backend/src/pipeline/noise.ts'
import { type HostTensor, outputOf } from '../../gpu-backend/src/pipeline/tensor.ts'
import type { TextStates } from '../../gpu-backend/src/pipeline/text.ts'
import { type ort, runFloat32 } from '../../gpu-backend/src/runtime/session.ts'
import { goldenPath, readCase, relErr } from './golden.ts'
import { scModelDir, tableText } from './golden-runs.ts'

export const CASES = goldenPath('image', 'cases')
export const caseFile = (name: string) => join(CASES, `${name}.safetensors`)
const img2imgCases = existsSync(CASES) ? readdirSync(CASES).filter((f) => /^img2img/.test(f)) : []
export const IMG2IMG_CASE = img2imgCases[0]

export type Case = ReturnType<typeof readCase>

export const t = (c: Case, name: string): HostTensor => ({ data: c.get(name).data, dims: c.get(name).shape })
export function row(c: Case, name: string, i: number): HostTensor {
  const x = c.get(name)
  const per = x.data.length / (x.shape[0] as number)
  return { data: x.data.slice(i * per, (i + 1) * per), dims: [1, ...x.shape.slice(1)] }
}
/** Step i of a per-step record (steps, B, ...) as its (B, ...) tensor. */
export function stepRow(c: Case, name: string, i: number): HostTensor {
  const x = c.get(name)
  const per = x.data.length / (x.shape[0] as number)
  return { data: x.data.slice(i * per, (i + 1) * per), dims: x.shape.slice(1) }
}
/** (1, C, H, W) as an input image of float planes (exactly what the pipeline samples when the size matches). */
export const planes = (x: HostTensor): InputImage => ({
  width: x.dims[3] as number,
  height: x.dims[2] as number,
  planes: x.data.slice(0, 3 * (x.dims[2] as number) * (x.dims[3] as number)),
})

/** Noise for runs with no recorded counterpart: deterministic, the same for both loops and the reference. */
export const synthetic: NoiseSource = {
  draw: (_stage, k, s) => new Float32Array(s.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(7 * k + i)),
}

const stageBLatent = () =>
  JSON.parse(readFileSync(goldenPath('configs', 'sampling.json'), 'utf8')).stage_b.shape.slice(2) as [
    number,
    number,
  ]

/** The img2img case's text states (conditional `cond-<i>`, unconditional ""), and its Stage C noise. */
export function recorded(c: Case) {
  const batch = c.get('x_init').shape[0] as number
  const states = (prefix: string, i: number): TextStates => {
    const pick = (name: string) =>
      row(c, `${prefix}.${name}`, Math.min(i, (c.get(`${prefix}.${name}`).shape[0] as number) - 1))
    const pooled = pick('clip_text_pooled')
    return {
      hidden_pre_norm: pick('clip_text'),
      text_embeds: { data: pooled.data, dims: [1, pooled.dims[2] as number] },
    }
  }
  const text = tableText((_, p) => (p === '' ? states('uncond', 0) : states('cond', Number(p.slice(5)))))
  const shape = c.get('x_init').shape
  const per = shape.reduce((a, b) => a * b, 1)
  // Stage C: draw 0 is ε of gdf.diffuse (img2img) or the start latent, then one draw per step; Stage B: fixed.
  const noise: NoiseSource = {
    draw: (stage, k, s) =>
      stage === 'c'
        ? k === 0
          ? c.get('diffuse.epsilon').data.slice()
          : row(c, 'noise', k - 1).data.slice(0, per)
        : new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.25),
  }
  const prompts = Array.from({ length: batch }, (_, i) => `cond-${i}`)
  return {
    text,
    noise,
    batch,
    prompts,
    // Stage B's latent: the text-to-image set's (any size Stage B takes; nothing here compares it).
    latents: { c: shape.slice(2) as [number, number], b: stageBLatent() },
  }
}

export const img2img = IMG2IMG_CASE ? readCase(join(CASES, IMG2IMG_CASE)) : undefined
export const meta = img2img?.file.metadata ?? {}
export const sampleArgs = Object.fromEntries(
  [...(meta.call ?? '').slice((meta.call ?? '').indexOf('gdf.sample(')).matchAll(/(\w+)=([\d.]+)/g)].map(
    (m) => [m[1], Number(m[2])],
  ),
)

/** A request with the img2img case's steps and guidance. */
export function request(
  images: GenerateRequest['images'],
  extra: Partial<GenerateRequest> = {},
): GenerateRequest {
  return {
    width: 96,
    height: 96,
    images,
    priorSteps: Number(meta.steps),
    priorGuidance: sampleArgs.cfg as number,
    decoderSteps: 1,
    decoderGuidance: 0,
    groups: [images.length],
    ...extra,
  }
}

export interface Img2imgRun {
  dir: Promise<string>
  request: GenerateRequest
  /** Recorded text states, noise and latent sizes; the encoder answers the recorded image latent. */
  options: GenerateOptions
  reference: { prior: Float32Array; timesteps: number; x0: (step: number) => HostTensor }
}

/** The official img2img run as a pipeline request on the golden image model (scModelDir(true)). */
export function img2imgRun(c: Case): Img2imgRun {
  const r = recorded(c)
  const sources = r.prompts.map((_, i) =>
    planes({ data: new Float32Array(3 * 96 * 96).fill(i / 4), dims: [1, 3, 96, 96] }),
  )
  const imageEncoders: ImageEncoders = {
    encode: async (img) => row(c, 'x0_image_latent', sources.indexOf(img)),
    embed: () => Promise.reject(new Error('no variation here')),
    control: () => Promise.reject(new Error('no control here')),
  }
  return {
    dir: scModelDir(true),
    request: request(
      r.prompts.map((prompt, i) => ({
        seed: i,
        prompt,
        negativePrompt: '',
        inputs: { init: sources[i] as InputImage },
      })),
      { strength: Number(meta.strength) },
    ),
    options: { text: r.text, noise: r.noise, latents: r.latents, imageEncoders },
    reference: {
      prior: c.get('output').data,
      timesteps: (c.get('t').shape[0] as number) - 1,
      x0: (step) => stepRow(c, 'x0', step - 1),
    },
  }
}

/** The worst relative error of previews against the previewer on the recorded x0 of their steps, clamped. */
export async function previewErrors(
  previewer: ort.InferenceSession,
  previews: { step: number; images: HostTensor }[],
  x0: (step: number) => HostTensor,
): Promise<number> {
  let worst = 0
  for (const p of previews) {
    const ref = outputOf(await runFloat32(previewer, { x: x0(p.step) }), 'image')
    if (p.images.dims.join() !== ref.dims.join()) return Number.POSITIVE_INFINITY
    worst = Math.max(
      worst,
      relErr(
        p.images.data,
        ref.data.map((v) => Math.min(Math.max(v, 0), 1)),
      ),
    )
  }
  return worst
}
