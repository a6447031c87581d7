import { describe, expect, it } from 'vitest'
import {
  type GenerateOptions,
  type GenerateRequest,
  type GenerateResult,
  generate,
} from '../../gpu-backend/src/pipeline/generate.ts'
import { graphEncoders } from '../../gpu-backend/src/pipeline/image-conditioning.ts'
import type { InputImage, InputMask } from '../../gpu-backend/src/pipeline/inputs.ts'
import { type LoadedModel, loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import type { NoiseSource } from '../../gpu-backend/src/pipeline/noise.ts'
import { sampleStage } from '../../gpu-backend/src/pipeline/sample.ts'
import type { HostTensor } from '../../gpu-backend/src/pipeline/tensor.ts'
import { stageConditioning } from '../../gpu-backend/src/pipeline/text.ts'
import { gdfDiffuse } from '../../gpu-backend/src/samplers/gdf-ddpm.ts'
import { readCase, relErr } from './golden.ts'
import { scModelDir } from './golden-runs.ts'
import {
  caseFile,
  IMG2IMG_CASE,
  img2img,
  img2imgRun,
  meta,
  planes,
  previewErrors,
  recorded,
  request,
  row,
  sampleArgs,
  synthetic,
  t,
} from './image-runs.ts'

// READMEs: a forward 5e-4, a sampling run 1e-3; the device loop's contract 1e-5.
const TOL_FORWARD = 5e-4
const TOL_RUN = 1e-3
const TOL_DEVICE_LOOP = 1e-5

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

  it(`img2img: Stage C within ${TOL_RUN} of the official run (${IMG2IMG_CASE}), previews = previewer(x0)`, async () => {
    const loaded = await models()
    const run = img2imgRun(c)
    const steps: number[] = []
    const previews: { step: number; images: HostTensor }[] = []
    const result = await bothLoops(
      loaded,
      run.request,
      {
        ...run.options,
        onStep: (e) => e.stage === 'c' && steps.push(e.step),
        previews: { wants: () => true, onPreview: (p) => previews.push({ step: p.step, images: p.images }) },
      },
      'img2img',
    )
    const err = relErr(result.prior.data, run.reference.prior)
    console.log(`img2img Stage C vs the official run: ${err.toExponential(2)}`)
    expect(err).toBeLessThan(TOL_RUN)
    // int(steps · strength) steps (the case records its schedule).
    const { timesteps } = run.reference
    expect(steps).toEqual(Array.from({ length: timesteps }, (_, i) => i + 1))
    expect(steps).toHaveLength(Math.trunc(Number(meta.steps) * Number(meta.strength)))
    // Previews: both loops made one per step; each is the previewer on the recorded x0 of that step.
    const previewer = loaded[0].image.previewer
    if (!previewer) throw new Error('the golden image model has no previewer')
    expect(previews.map((p) => p.step)).toEqual([...steps, ...steps])
    const worst = await previewErrors(previewer, previews.slice(0, timesteps), run.reference.x0)
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
