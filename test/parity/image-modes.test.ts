// The image modes through the whole pipeline (gpu-backend/src/pipeline/generate.ts) on a model directory compiled
// from the golden tiny checkpoints, text-to-image set and image set together (golden-runs.ts scModelDir(true)):
// - img2img against the official run (golden image/img2img_sampling): the recorded image latent as the encoder's
//   answer, the recorded ε and noise, the pipeline's own strength -> schedule; and its live previews, each the
//   previewer on that step's recorded x0;
// - variation, inpainting and canny against Stage C runs assembled from the golden graphs' cases: CLIP vision's
//   embedding (clip_vision_forward), the ControlNets' outputs (controlnet_*_forward) fed to the sampling loop the
//   way the official recipes feed them (clip_img in the conditional half only; the same cnet in both halves);
// - inpainting's compositing of the kept pixels.
// Every run goes through both sampling loops (host, and the device loop's graphs on the CPU): within 1e-5.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type GenerateOptions,
  type GenerateRequest,
  type GenerateResult,
  generate,
} from '../../gpu-backend/src/pipeline/generate.ts'
import { graphEncoders, type ImageEncoders } from '../../gpu-backend/src/pipeline/image-conditioning.ts'
import type { InputImage, InputMask } from '../../gpu-backend/src/pipeline/inputs.ts'
import { type LoadedModel, loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import type { NoiseSource } from '../../gpu-backend/src/pipeline/noise.ts'
import { sampleStage } from '../../gpu-backend/src/pipeline/sample.ts'
import { type HostTensor, outputOf } from '../../gpu-backend/src/pipeline/tensor.ts'
import { stageConditioning, type TextStates } from '../../gpu-backend/src/pipeline/text.ts'
import { runFloat32 } from '../../gpu-backend/src/runtime/session.ts'
import { gdfDiffuse } from '../../gpu-backend/src/samplers/gdf-ddpm.ts'
import { goldenPath, readCase, relErr } from './golden.ts'
import { scModelDir, tableText } from './golden-runs.ts'

// READMEs: a forward 5e-4, a sampling run 1e-3; the device loop's contract 1e-5.
const TOL_FORWARD = 5e-4
const TOL_RUN = 1e-3
const TOL_DEVICE_LOOP = 1e-5

const CASES = goldenPath('image', 'cases')
const caseFile = (name: string) => join(CASES, `${name}.safetensors`)
const img2imgCases = existsSync(CASES) ? readdirSync(CASES).filter((f) => /^img2img/.test(f)) : []
type Case = ReturnType<typeof readCase>

const t = (c: Case, name: string): HostTensor => ({ data: c.get(name).data, dims: c.get(name).shape })
function row(c: Case, name: string, i: number): HostTensor {
  const x = c.get(name)
  const per = x.data.length / (x.shape[0] as number)
  return { data: x.data.slice(i * per, (i + 1) * per), dims: [1, ...x.shape.slice(1)] }
}
/** Step i of a per-step record (steps, B, ...) as its (B, ...) tensor. */
function stepRow(c: Case, name: string, i: number): HostTensor {
  const x = c.get(name)
  const per = x.data.length / (x.shape[0] as number)
  return { data: x.data.slice(i * per, (i + 1) * per), dims: x.shape.slice(1) }
}
/** (1, C, H, W) as an input image of float planes (exactly what the pipeline samples when the size matches). */
const planes = (x: HostTensor): InputImage => ({
  width: x.dims[3] as number,
  height: x.dims[2] as number,
  planes: x.data.slice(0, 3 * (x.dims[2] as number) * (x.dims[3] as number)),
})

/** Noise for runs with no recorded counterpart: deterministic, the same for both loops and the reference. */
const synthetic: NoiseSource = {
  draw: (_stage, k, s) => new Float32Array(s.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(7 * k + i)),
}

const stageBLatent = () =>
  JSON.parse(readFileSync(goldenPath('configs', 'sampling.json'), 'utf8')).stage_b.shape.slice(2) as [
    number,
    number,
  ]

/** The img2img case's text states (conditional `cond-<i>`, unconditional ""), and its Stage C noise. */
function recorded(c: Case) {
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

const img2img = img2imgCases[0] ? readCase(join(CASES, img2imgCases[0])) : undefined
const meta = img2img?.file.metadata ?? {}
const sampleArgs = Object.fromEntries(
  [...(meta.call ?? '').slice((meta.call ?? '').indexOf('gdf.sample(')).matchAll(/(\w+)=([\d.]+)/g)].map(
    (m) => [m[1], Number(m[2])],
  ),
)

async function models(): Promise<[LoadedModel, LoadedModel]> {
  const dir = await scModelDir(true)
  return [await loadModel(dir), await loadModel(dir, { loop: 'device' })]
}

/** The run on the host loop, checked against the device loop within 1e-5. */
async function bothLoops(
  [host, device]: [LoadedModel, LoadedModel],
  req: GenerateRequest,
  opts: GenerateOptions,
  label: string,
): Promise<GenerateResult> {
  const a = await generate(host, req, opts)
  // The device run reports no steps (the caller counts the host run's); its previews arrive as well.
  const { onStep: _, ...rest } = opts
  const b = await generate(device, req, rest)
  const errs = { prior: relErr(b.prior.data, a.prior.data), image: relErr(b.images.data, a.images.data) }
  console.log(
    `${label}, device loop vs host loop: prior ${errs.prior.toExponential(2)}, image ${errs.image.toExponential(2)}`,
  )
  for (const v of Object.values(errs)) expect(v).toBeLessThan(TOL_DEVICE_LOOP)
  return a
}

/** A request with the img2img case's steps and guidance. */
function request(images: GenerateRequest['images'], extra: Partial<GenerateRequest> = {}): GenerateRequest {
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

interface ReferenceRun {
  shape: number[]
  noise: NoiseSource
  prompts: string[]
  text: ReturnType<typeof recorded>['text']
  start: Float32Array
}

/** Stage C of the reference: the sampling loop with the given conditioning added to each half's text inputs. */
async function referenceStageC(
  model: LoadedModel,
  run: ReferenceRun,
  cond: Record<string, HostTensor>,
  uncond: Record<string, HostTensor>,
): Promise<HostTensor> {
  const batch = run.prompts.length
  const feeds = async (prompts: string[]) =>
    stageConditioning(
      model.stages.c,
      model.manifest.settings.text.stage_c,
      await run.text.encode('c', prompts),
      batch,
    )
  return sampleStage({
    stage: 'c',
    session: model.stages.c,
    sampler: model.samplers.c,
    shape: run.shape,
    steps: Number(meta.steps),
    guidance: sampleArgs.cfg as number,
    groups: [batch],
    cond: { ...(await feeds(run.prompts)), ...cond },
    uncond: { ...(await feeds(run.prompts.map(() => ''))), ...uncond },
    noise: run.noise,
    start: Promise.resolve(run.start),
  })
}

describe('image modes through the pipeline (golden image/)', () => {
  it('finds the img2img case', () => expect(img2img).toBeDefined())
  if (!img2img) return
  const c = img2img

  it(`img2img: Stage C within ${TOL_RUN} of the official run (${img2imgCases[0]}), previews = previewer(x0)`, async () => {
    const loaded = await models()
    const r = recorded(c)
    const strength = Number(meta.strength)
    const sources = r.prompts.map((_, i) =>
      planes({ data: new Float32Array(3 * 96 * 96).fill(i / 4), dims: [1, 3, 96, 96] }),
    )
    const encoders: ImageEncoders = {
      encode: async (img) => row(c, 'x0_image_latent', sources.indexOf(img)),
      embed: () => Promise.reject(new Error('no variation here')),
      control: () => Promise.reject(new Error('no control here')),
    }
    const steps: number[] = []
    const previews: { step: number; images: HostTensor }[] = []
    const result = await bothLoops(
      loaded,
      request(
        r.prompts.map((prompt, i) => ({
          seed: i,
          prompt,
          negativePrompt: '',
          inputs: { init: sources[i] as InputImage },
        })),
        { strength },
      ),
      {
        text: r.text,
        noise: r.noise,
        latents: r.latents,
        imageEncoders: encoders,
        onStep: (e) => e.stage === 'c' && steps.push(e.step),
        previews: { wants: () => true, onPreview: (p) => previews.push({ step: p.step, images: p.images }) },
      },
      'img2img',
    )
    const err = relErr(result.prior.data, c.get('output').data)
    console.log(`img2img Stage C vs the official run: ${err.toExponential(2)}`)
    expect(err).toBeLessThan(TOL_RUN)
    // int(steps · strength) steps (the case records its schedule).
    const timesteps = (c.get('t').shape[0] as number) - 1
    expect(steps).toEqual(Array.from({ length: timesteps }, (_, i) => i + 1))
    // Previews: both loops made one per step; each is the previewer on the recorded x0 of that step.
    const previewer = loaded[0].image.previewer
    if (!previewer) throw new Error('the golden image model has no previewer')
    expect(previews.map((p) => p.step)).toEqual([...steps, ...steps])
    expect(steps).toHaveLength(Math.trunc(Number(meta.steps) * strength))
    let worst = 0
    for (const p of previews.slice(0, timesteps)) {
      const ref = outputOf(await runFloat32(previewer, { x: stepRow(c, 'x0', p.step - 1) }), 'image')
      const clamped = ref.data.map((v) => Math.min(Math.max(v, 0), 1))
      expect(p.images.dims).toEqual([
        r.batch,
        3,
        8 * (r.latents.c[0] as number),
        8 * (r.latents.c[1] as number),
      ])
      worst = Math.max(worst, relErr(p.images.data, clamped))
    }
    console.log(`previews vs previewer(recorded x0): ${worst.toExponential(2)}`)
    expect(worst).toBeLessThan(TOL_RUN)
  })

  it(`variation: CLIP vision within ${TOL_FORWARD} of the official forward; Stage C as the recipe feeds it`, async () => {
    const loaded = await models()
    const [model] = loaded
    const vision = readCase(caseFile('clip_vision_forward'))
    const r = recorded(c)
    const images = r.prompts.map((_, i) =>
      planes(row(vision, 'image', i % (vision.get('image').shape[0] as number))),
    )
    const embeds = await Promise.all(images.map((img) => graphEncoders(model.image).embed(img)))
    const golden = images.map((_, i) =>
      row(vision, 'image_embeds', i % (vision.get('image').shape[0] as number)),
    )
    for (const [i, e] of embeds.entries()) {
      const err = relErr(e.data, (golden[i] as HostTensor).data)
      console.log(`CLIP vision embedding ${i} vs the official forward: ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL_FORWARD)
    }
    const result = await bothLoops(
      loaded,
      request(
        r.prompts.map((prompt, i) => ({
          seed: i,
          prompt,
          negativePrompt: '',
          inputs: { variation: images[i] as InputImage },
        })),
      ),
      { text: r.text, noise: synthetic, latents: r.latents },
      'variation',
    )
    const p = golden[0]?.dims[1] as number
    const clipImg = { data: new Float32Array(golden.flatMap((g) => [...g.data])), dims: [r.batch, 1, p] }
    const shape = c.get('x_init').shape
    const start = synthetic.draw('c', 0, shape) as Float32Array
    const ref = await referenceStageC(
      model,
      { ...r, noise: synthetic, shape, start },
      { clip_img: clipImg },
      {},
    )
    const err = relErr(result.prior.data, ref.data)
    console.log(`variation Stage C vs the assembled run: ${err.toExponential(2)}`)
    expect(err).toBeLessThan(TOL_RUN)
  })

  for (const [type, name] of [
    ['inpainting', 'controlnet_inpaint_forward'],
    ['canny', 'controlnet_canny_forward'],
  ] as const)
    it(`${type}: the ControlNet within ${TOL_FORWARD} of the official forward; Stage C with it in both halves`, async () => {
      const loaded = await models()
      const [model] = loaded
      const cn = readCase(caseFile(name))
      const hint = row(cn, 'hint', 0)
      const [, , hh, hw] = hint.dims as [number, number, number, number]
      const grid: [number, number] = [hh / 32, hw / 32]
      // The golden hint as the request's inputs: inpainting [image, mask] (masked pixels already white), canny an
      // edge map given as an RGB image (preprocessed).
      const plane = hh * hw
      const image: InputImage =
        type === 'inpainting'
          ? planes(hint)
          : {
              width: hw,
              height: hh,
              planes: new Float32Array(3 * plane).map((_, i) => hint.data[i % plane] as number),
            }
      const mask: InputMask = {
        width: hw,
        height: hh,
        repaint: Uint8Array.from(hint.data.subarray(3 * plane, 4 * plane), (v) => (v ? 1 : 0)),
      }
      const control =
        type === 'inpainting'
          ? ({ type, image, mask, strength: 1 } as const)
          : ({ type, image, preprocessed: true, strength: 1 } as const)
      const cnet = await graphEncoders(model.image).control(control, grid)
      for (const k of Object.keys(cnet)) {
        const err = relErr((cnet[k] as HostTensor).data, cn.get(k).data)
        expect(err, k).toBeLessThan(TOL_FORWARD)
      }
      // Stage C on the ControlNet's grid: the img2img case's text, its noise where the shapes allow.
      const r = recorded(c)
      // Stage B at a quarter of the hint, so Stage A gives the hint's (the input's) size.
      const latents = { c: grid, b: [hh / 4, hw / 4] as [number, number] }
      const shape = [1, 16, ...grid]
      const noise = synthetic
      const inpainting = type === 'inpainting'
      const result = await bothLoops(
        loaded,
        request(
          [
            {
              seed: 0,
              prompt: 'cond-0',
              negativePrompt: '',
              inputs: inpainting ? { init: image, control, composite: { image, mask } } : { control },
            },
          ],
          inpainting ? { strength: 1 } : {},
        ),
        { text: r.text, noise, latents },
        type,
      )
      const golden = Object.fromEntries(Object.keys(cnet).map((k) => [k, t(cn, k)]))
      const eps = noise.draw('c', 0, shape) as Float32Array
      const start = inpainting
        ? gdfDiffuse((await graphEncoders(model.image).encode(image, grid)).data, eps, 1, 1)
        : eps
      const ref = await referenceStageC(
        model,
        { shape, noise, prompts: ['cond-0'], text: r.text, start },
        golden,
        golden,
      )
      const err = relErr(result.prior.data, ref.data)
      console.log(`${type} Stage C vs the assembled run: ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL_RUN)
      if (inpainting) {
        // Stage A gives the hint's size here: kept pixels are the input's, repainted ones Stage A's.
        expect(result.images.dims).toEqual([1, 3, hh, hw])
        for (let ch = 0; ch < 3; ch++)
          for (let p = 0; p < plane; p++) {
            const at = ch * plane + p
            const want = mask.repaint[p] ? result.decoded.data[at] : hint.data[at]
            if (result.images.data[at] !== want) throw new Error(`pixel ${p} channel ${ch} not composited`)
          }
        expect(mask.repaint.includes(0) && mask.repaint.includes(1)).toBe(true)
      }
    })
})
