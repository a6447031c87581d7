// Whole generations on WebGPU with the sampling loops on the device (model graph -> step graph, latents left on the
// device): the golden reference chains of both families (golden-runs.ts) within the parity suite's tolerances, the
// official img2img run with live previews read from device tensors (image-runs.ts), every image mode of a make-tiny
// Stable Cascade against the CPU's host loop, and a request through each family's own tokenizer and CLIP.
import { describe, expect, it } from 'vitest'
import { type GenerateRequest, generate } from '../../gpu-backend/src/pipeline/generate.ts'
import type { ImageInputs } from '../../gpu-backend/src/pipeline/image-conditioning.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import type { HostTensor } from '../../gpu-backend/src/pipeline/tensor.ts'
import { relErr } from '../parity/golden.ts'
import { scGoldenRun, v2GoldenRuns } from '../parity/golden-runs.ts'
import { IMG2IMG_CASE, img2img, img2imgRun, previewErrors } from '../parity/image-runs.ts'
import { FAMILIES, tinyModel } from './tiny-models.ts'

// The parity suite's tolerances for a whole chain (pipeline.test.ts).
const TOL_CHAIN = 1e-3
const TOL_V2_IMAGE_ABS = 2e-3

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

describe('the official chains on WebGPU', () => {
  const [firstV2] = v2GoldenRuns()
  it.each([scGoldenRun('prompts through our tokenizer and CLIP'), ...(firstV2 ? [firstV2] : [])])(
    '$label',
    async (run) => {
      const model = await loadModel(await run.dir, { provider: 'webgpu' })
      expect(model.provider.provider).toBe('webgpu')
      expect(model.device, 'the device loop is the default on a GPU provider').toBeDefined()
      const got = await generate(model, run.request, run.options)
      const errs = {
        prior: relErr(got.prior.data, run.reference.prior),
        decoder: relErr(got.decoder.data, run.reference.decoder),
      }
      const image = run.label.startsWith('v2')
        ? maxAbsDiff(got.decoded.data, run.reference.image)
        : relErr(got.decoded.data, run.reference.image)
      console.log(`${run.label} on WebGPU:`, errs, { image })
      for (const [k, v] of Object.entries(errs)) expect(v, k).toBeLessThan(TOL_CHAIN)
      expect(image).toBeLessThan(run.label.startsWith('v2') ? TOL_V2_IMAGE_ABS : TOL_CHAIN)
    },
  )
})

describe('image modes on WebGPU', () => {
  it(`the official img2img run (${IMG2IMG_CASE}), with a preview per step from the device`, async () => {
    if (!img2img) throw new Error('no img2img case')
    const run = img2imgRun(img2img)
    const model = await loadModel(await run.dir, { provider: 'webgpu' })
    const previews: { step: number; images: HostTensor }[] = []
    const got = await generate(model, run.request, {
      ...run.options,
      previews: { wants: () => true, onPreview: (p) => previews.push({ step: p.step, images: p.images }) },
    })
    const err = relErr(got.prior.data, run.reference.prior)
    const previewer = (await loadModel(await run.dir)).image.previewer
    if (!previewer) throw new Error('no previewer')
    const worst = await previewErrors(previewer, previews, run.reference.x0)
    console.log(`img2img on WebGPU: prior ${err.toExponential(2)}, previews ${worst.toExponential(2)}`)
    expect(err).toBeLessThan(TOL_CHAIN)
    expect(previews.map((p) => p.step)).toEqual(
      Array.from({ length: run.reference.timesteps }, (_, i) => i + 1),
    )
    expect(worst).toBeLessThan(TOL_CHAIN)
  })

  it('variation, img2img, inpainting and canny of a make-tiny Stable Cascade equal the CPU host loop', async () => {
    const dir = await tinyModel('stable-cascade')
    const [gpu, cpu] = await Promise.all([loadModel(dir, { provider: 'webgpu' }), loadModel(dir)])
    const n = 96
    const image = {
      width: n,
      height: n,
      planes: Float32Array.from({ length: 3 * n * n }, (_, i) => ((i * 7919) % 97) / 96),
    }
    const mask = {
      width: n,
      height: n,
      repaint: Uint8Array.from({ length: n * n }, (_, i) => (i % n > n / 2 ? 1 : 0)),
    }
    const modes: Record<string, { inputs: ImageInputs; strength?: number }> = {
      variation: { inputs: { variation: image } },
      img2img: { inputs: { init: image }, strength: 0.5 },
      inpainting: {
        inputs: {
          init: image,
          control: { type: 'inpainting', image, mask, strength: 1 },
          composite: { image, mask },
        },
        strength: 1,
      },
      canny: { inputs: { control: { type: 'canny', image, preprocessed: false, strength: 1 } } },
    }
    for (const [mode, m] of Object.entries(modes)) {
      const request: GenerateRequest = {
        width: 128,
        height: 128,
        images: [{ seed: 3, prompt: 'a harbour', negativePrompt: '', inputs: m.inputs }],
        priorSteps: 4,
        priorGuidance: 4,
        decoderSteps: 2,
        decoderGuidance: 1.1,
        ...(m.strength !== undefined ? { strength: m.strength } : {}),
      }
      const [a, b] = [await generate(gpu, request), await generate(cpu, request)]
      const err = relErr(a.prior.data, b.prior.data)
      console.log(`${mode} on WebGPU vs the CPU: prior ${err.toExponential(2)}`)
      expect(err, mode).toBeLessThan(TOL_CHAIN)
      expect(a.images.data.every(Number.isFinite)).toBe(true)
    }
  })
})

describe.each(FAMILIES)('%s (make-tiny) on WebGPU', (family) => {
  it('runs a request from prompts to images, every phase reported, every pixel finite', async () => {
    const request: GenerateRequest = {
      width: 128,
      height: 128,
      images: [
        { seed: 1, prompt: 'a red fox in the snow', negativePrompt: '' },
        { seed: 2, prompt: 'a lighthouse at dusk', negativePrompt: 'fog' },
      ],
      priorSteps: 2,
      priorGuidance: 4,
      decoderSteps: 2,
      decoderGuidance: 1.1,
    }
    const model = await loadModel(await tinyModel(family), { provider: 'webgpu' })
    const steps: string[] = []
    const got = await generate(
      model,
      { ...request, images: request.images.map((i) => ({ ...i, format: 'png' as const })) },
      { onStep: (e) => steps.push(`${e.stage}${e.step}`) },
    )
    expect(got.decoded.dims).toEqual([2, 3, 128, 128])
    expect(got.decoded.data.every(Number.isFinite)).toBe(true)
    expect(got.encoded.map((b) => b?.subarray(1, 4).toString())).toEqual(['80,78,71', '80,78,71'])
    expect(steps).toEqual(['text1', 'c1', 'c2', 'b1', 'b2', 'a1', 'encode1', 'encode2'])
  })
})
